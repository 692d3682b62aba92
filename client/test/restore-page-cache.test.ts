/**
 * A restore leaves its big files (more than one 64 KiB chunk: written through
 * restore/write-behind.ts) out of the page cache, once written to disk, where the stage addon is
 * built: fincore finds none of their bytes cached after `deaddrop restore`, and the tree is the
 * source's. Small files are left to the kernel (client/native/stage.c says why).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stageAddon } from '@deaddrop/client/native/stage';
import { compareTrees } from '@deaddrop/test/compare-trees';
import {
  cachedBytes,
  localBackupRig,
  missingTools,
  missingUnless,
  pageCacheSkip,
  POOL_ADDONS_MISSING,
  runDeaddrop,
  seededBytes,
  tempDir,
} from '@deaddrop/test';

test('restored big files are not left in the page cache; the tree is the source', { timeout: 120_000 }, async (t) => {
  const tmp = tempDir('deaddrop-restore-cache-');
  const skip =
    missingUnless(stageAddon()?.writeOut !== undefined, POOL_ADDONS_MISSING) ||
    missingTools('fincore') ||
    pageCacheSkip(tmp);
  if (skip) return t.skip(skip);
  const src = join(tmp, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  const big = { 'big.bin': 5 * 1024 * 1024 + 777, 'mid.bin': 300_000, 'd/two-mib.bin': 2 * 1024 * 1024 };
  for (const [name, size] of Object.entries(big)) writeFileSync(join(src, name), seededBytes(name, size));
  for (let i = 0; i < 40; i++) writeFileSync(join(src, 'd', `small${i}`), seededBytes(`s${i}`, 100 + i * 500));
  const { key, client, backup } = await localBackupRig(tmp, src);
  await backup();
  const dest = join(tmp, 'dest');
  const r = await runDeaddrop(['restore', '--from', client.sinkHostDir, '--host', 'h1', '--key', key.plainKeyPath, '--to', dest]); // prettier-ignore
  assert.equal(r.code, 0, r.stderr);
  for (const name of Object.keys(big))
    assert.equal(cachedBytes(join(dest, name)), 0, `${name}: bytes in the page cache`);
  assert.deepEqual(compareTrees(src, dest), []);
});
