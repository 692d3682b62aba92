/**
 * A ping that cannot go out logs why (the error's message), never the URL's secret parts: its
 * user:password@ and its path (the check's token).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { Logger } from '@deaddrop/common/log';
import { ping } from '@deaddrop/client/ops/pings';

function capture(): { log: Logger; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { log: new Logger({ stream }), text: () => chunks.join('') };
}

test('a ping that fails before any request logs the reason, without credentials or token', async () => {
  const c = capture();
  const ok = await ping('http://user:s3cret@127.0.0.1:9/ping/tok-123', 'success', 'body', {
    log: c.log,
    retries: 0,
  });
  assert.equal(ok, false);
  assert.match(c.text(), /warn: success ping to 127\.0\.0\.1:9 failed: .*credentials/);
  for (const secret of ['user', 's3cret', 'tok-123']) assert.ok(!c.text().includes(secret), c.text());
});
