/**
 * Mirrored delivery when sinks miss sets of a chain (a tiny spool drops what a sink missed at
 * once): a sink that lacks a set of a chain gets no later incremental of it, a new set counts
 * as delivered only on a sink holding its whole chain, and when no sink holds the whole
 * current chain the next run makes a full. Each sink alone then restores the latest backup.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools } from '@deaddrop/test';
import { assertRestoresLatest, backup, hostDir, hostOnTwoSinks } from './mirror-helpers.js';

const skip = missingTools('sha256sum', 'openssl');

test(
  'each sink misses a different incremental: no inc to a broken chain, then a full repairs both',
  { skip },
  async () => {
    const { a, b, host } = await hostOnTwoSinks({ spoolLimit: '1KB' });
    try {
      assert.equal((await backup(host)).code, 0);
      await a.stop();
      host.change(1);
      const r2 = await backup(host);
      assert.equal(r2.code, 4, r2.run.stderr);
      await a.restart();
      await b.stop();
      host.change(2);
      const r3 = await backup(host);
      assert.equal(r3.result.type, 'inc');
      assert.deepEqual(r3.result.delivery.a.confirmed, [], 'a lacks I1: it gets no later inc of that chain');
      assert.equal(r3.code, 1, `the new inc is restorable from no sink: ${r3.run.stderr}`);
      await b.restart();
      host.change(3);
      const r4 = await backup(host);
      assert.equal(r4.result.type, 'full', 'no sink holds the whole chain: a full');
      assert.equal(r4.code, 0, r4.run.stderr);
      host.change(4);
      const r5 = await backup(host);
      assert.equal(r5.result.type, 'inc');
      assert.equal(r5.code, 0, r5.run.stderr);
      await assertRestoresLatest(host, hostDir(a), join(host.tmp, 'ra'));
      await assertRestoresLatest(host, hostDir(b), join(host.tmp, 'rb'));
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);
