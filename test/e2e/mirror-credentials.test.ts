/**
 * A sink that refuses our login (HTTP 401: the netrc file holds another password than the
 * sink's htpasswd) is reported as refusing the credentials, naming the sink and the netrc
 * file: "unreachable" would send the sysadmin after the network. The first run meets the 401
 * on a volume PUT (early upload), the second on the listing (the sink lags, so only delivery
 * talks to it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEmbeddedSink } from '@deaddrop/test';
import { backup, HOST, makeHost, PASSWORD, sinkUrl } from './mirror-helpers.js';

test('a sink that refuses the login is reported as refusing the credentials, not as unreachable', async () => {
  const good = await startEmbeddedSink({ hosts: { [HOST]: PASSWORD } });
  const refusing = await startEmbeddedSink({ hosts: { [HOST]: 'another-password' } });
  try {
    const host = await makeHost([
      { name: 'a', url: sinkUrl(good) },
      { name: 'b', url: sinkUrl(refusing) },
    ]);
    for (const step of [1, 2]) {
      host.change(step);
      const out = await backup(host);
      assert.equal(out.code, 4, `run ${step}: ${out.run.stderr}`);
      // with --json the log lines are JSON on stdout, before the result
      const said = `${out.run.stdout}\n${out.run.stderr}`;
      assert.doesNotMatch(said, /unreachable/, `run ${step}: ${said}`);
      const lines = said.split('\n').filter((l) => l.includes('sink b'));
      assert.ok(
        lines.some((l) => l.includes('credentials') && l.includes(host.netrc)),
        `run ${step}: a line names sink b, the credentials and ${host.netrc}:\n${said}`,
      );
      assert.match(String(out.result.delivery?.b?.error), /credentials/, `run ${step}: the JSON result says why`);
      assert.ok(!said.includes(PASSWORD) && !said.includes('another-password'), 'no password is shown');
    }
  } finally {
    await Promise.all([good.stop(), refusing.stop()]);
  }
});
