/**
 * A sink that refuses PROPFIND (a locked-down nginx answering 405) but takes PUT: delivery
 * cannot list it, so it sends every file of the sets the sink has not confirmed, in order; a
 * name the sink already holds (409) counts as there. The sink catches up on the sets it missed
 * and the run says so truthfully (ok once it holds everything, degraded while it does not).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadClientConfig } from '@deaddrop/common/config/client';
import { Logger } from '@deaddrop/common/log';
import { runBackup } from '@deaddrop/client/backup/run';
import { FileTarget } from '@deaddrop/client/transport/file-target';
import { WebDavTarget } from '@deaddrop/client/transport/webdav-target';
import { missingTools, seededBytes, startEmbeddedSink, startSinkProxy } from '@deaddrop/test';
import { creds, FAST, oneFileHost } from './fault-rig.js';

/** In front of a real sink: PROPFIND is 405; while `refuseSums`, a sums file's PUT is 507 (full). */
async function noPropfindProxy(port: number) {
  const state = { refuseSums: false, propfinds: 0 };
  const proxy = await startSinkProxy(port, {
    intercept(req, res) {
      if (req.method !== 'PROPFIND' && !(state.refuseSums && req.url?.endsWith('.sha256sums'))) return false;
      if (req.method === 'PROPFIND') state.propfinds++;
      req.resume();
      res.writeHead(req.method === 'PROPFIND' ? 405 : 507, { 'content-length': '0' });
      res.end();
      return true;
    },
  });
  return { state, ...proxy };
}

function sizes(dir: string): Record<string, number> {
  return Object.fromEntries(readdirSync(dir).map((n) => [n, readFileSync(join(dir, n)).length]));
}

test(
  'a sink that refuses PROPFIND but takes PUT is caught up on the sets it missed',
  { skip: missingTools('openssl'), timeout: 120_000 },
  async () => {
    const c = await oneFileHost('deaddrop-no-propfind-', 'a.bin', seededBytes('a', 150_000));
    const { src } = c;
    const sink = await startEmbeddedSink({ hosts: { h1: creds.password } });
    const proxy = await noPropfindProxy(sink.port);
    const warnings: string[] = [];
    const log = new Logger({ level: 'error' });
    const warn = log.warn.bind(log);
    log.warn = (msg: string, fields?: Record<string, unknown>) => {
      warnings.push(msg);
      warn(msg, fields);
    };
    const backup = () =>
      runBackup({
        config: loadClientConfig(c.config),
        configFile: c.config,
        mode: 'auto',
        log,
        targets: [
          new FileTarget('local', `file://${c.sinkHostDir}/`),
          new WebDavTarget({
            name: 'b',
            url: `http://127.0.0.1:${proxy.port}/webdav/h1/`,
            credentials: creds,
            retry: FAST,
          }),
        ],
      });
    try {
      // first run: b takes the volumes and more, but its disk is "full" for the sums file
      proxy.state.refuseSums = true;
      const first = await backup();
      assert.equal(first.result, 'degraded', JSON.stringify(first.delivery));
      assert.equal(first.exitCode, 4);
      assert.deepEqual(first.delivery!.b!.lagging, [first.set]);

      // second run: b takes everything, but still cannot be listed
      proxy.state.refuseSums = false;
      writeFileSync(join(src, 'b.bin'), seededBytes('b', 50_000));
      const second = await backup();
      assert.equal(second.type, 'inc');
      assert.equal(second.result, 'ok', JSON.stringify(second.delivery));
      assert.equal(second.exitCode, 0);
      assert.deepEqual(second.delivery!.b!.confirmed, [first.set, second.set]);
      assert.deepEqual(second.delivery!.b!.lagging, []);
      assert.ok(second.delivery!.b!.existed > 0, 'the files b took in the first run were answered 409');
      assert.ok(proxy.state.propfinds > 0);
      assert.ok(
        warnings.some((w) => /sink b cannot be listed \(.*HTTP 405.*\)/.test(w)),
        `a warning says b could not be listed:\n${warnings.join('\n')}`,
      );
      // b holds every file of both sets, as the local sink does
      assert.deepEqual(sizes(join(sink.root, 'h1')), sizes(c.sinkHostDir));
      for (const n of readdirSync(c.sinkHostDir))
        assert.ok(readFileSync(join(sink.root, 'h1', n)).equals(readFileSync(join(c.sinkHostDir, n))), n);
      assert.deepEqual(readdirSync(join(c.archiveDir, 'outgoing')), [], 'nothing left to deliver');
    } finally {
      proxy.close();
      await sink.stop();
    }
  },
);
