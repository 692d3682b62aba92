/**
 * A set lost from the spool (its outgoing directory gone) while a sink was away, newer than a
 * full that sink missed too: when the sink is back and confirms the full, it still lacks the
 * lost set and lags (exit 4) instead of a false success, until a full made after the loss.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools } from '@deaddrop/test';
import { assertRestoresLatest, backup, hostDir, hostOnTwoSinks } from './mirror-helpers.js';

const skip = missingTools('sha256sum', 'openssl');

test(
  'a full confirmed on a sink that was away keeps the newer sets it lost: it lags, no false success',
  { skip },
  async () => {
    const { a, b, host } = await hostOnTwoSinks();
    try {
      assert.equal((await backup(host)).code, 0);
      await b.stop();
      const f2 = await backup(host, ['--full']);
      assert.equal(f2.code, 4, f2.run.stderr);
      host.change(1);
      const i1 = await backup(host);
      host.change(2);
      const i2 = await backup(host);
      assert.deepEqual([i1.code, i2.code, i2.result.type], [4, 4, 'inc']);
      rmSync(join(host.archive, 'outgoing', i1.result.set), { recursive: true }); // lost before b had it
      await b.restart();
      host.change(3);
      const back = await backup(host);
      assert.ok(back.result.delivery.b.confirmed.includes(f2.result.set), 'b gets the full it missed');
      assert.ok(back.result.delivery.b.lagging.includes(i1.result.set), 'b still lacks I1, newer than F2');
      assert.equal(back.code, 4, back.run.stderr);
      host.change(4);
      const later = await backup(host);
      assert.equal(later.code, 4, `b cannot restore the latest: ${later.run.stderr}`);
      await assertRestoresLatest(host, hostDir(a), join(host.tmp, 'ra'));
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);
