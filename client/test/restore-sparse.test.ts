/**
 * Sparse files are restored sparse: a chunk of zeros is left a hole, not written, so a 64 MiB
 * file of holes takes a few blocks on disk, not 64 MiB; its bytes are the same. A file that
 * ends in zeros, or is all zeros, keeps its size.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTestRecipient, runDeaddrop, seededBytes, tempDir, writeLocalClientConfig } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';

const MiB = 1 << 20;

/** Whether files here can have holes (most file systems; not all). */
function holesWork(dir: string): boolean {
  const probe = join(dir, 'probe');
  writeFileSync(probe, '');
  truncateSync(probe, 16 * MiB);
  return statSync(probe).blocks * 512 < MiB;
}

test('sparse files are restored sparse, with the same bytes', async (t) => {
  const tmp = tempDir('deaddrop-restore-sparse-');
  if (!holesWork(tmp)) return t.skip('no holes in files on this file system');
  const src = join(tmp, 'src');
  mkdirSync(src);
  // 64 MiB: data at the start, in the middle (not on a chunk boundary) and at the end, holes between
  const sparse = join(src, 'sparse');
  writeFileSync(sparse, seededBytes('head', 100_000));
  const fd = openSync(sparse, 'r+');
  writeSync(fd, seededBytes('middle', 5000), 0, 5000, 30 * MiB + 123);
  writeSync(fd, Buffer.from('end\n'), 0, 4, 64 * MiB - 4);
  closeSync(fd);
  // ends in a hole, and all zeros
  writeFileSync(join(src, 'tail-hole'), seededBytes('data', 70_000));
  truncateSync(join(src, 'tail-hole'), 3 * MiB + 17);
  writeFileSync(join(src, 'zeros'), '');
  truncateSync(join(src, 'zeros'), 200_000);
  writeFileSync(join(src, 'plain'), seededBytes('plain', 300_000));

  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const c = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath] });
  const b = await runDeaddrop(['backup', '--config', c.config]);
  assert.equal(b.code, 0, b.stderr);
  const out = join(tmp, 'out');
  const r = await runDeaddrop(['restore', '--from', c.sinkHostDir, '--host', 'h1', '--key', key.plainKeyPath, '--to', out]); // prettier-ignore
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(compareTrees(src, out), []);

  const allocated = (name: string) => statSync(join(out, name)).blocks * 512;
  assert.equal(statSync(join(out, 'sparse')).size, 64 * MiB);
  // the data written, rounded up to 64 KiB chunks, and metadata: far from 64 MiB
  assert.ok(allocated('sparse') <= MiB, `sparse: ${allocated('sparse')} bytes allocated`);
  assert.ok(allocated('tail-hole') <= 512 * 1024, `tail-hole: ${allocated('tail-hole')} bytes allocated`);
  assert.ok(allocated('zeros') <= 64 * 1024, `zeros: ${allocated('zeros')} bytes allocated`);
  assert.ok(allocated('plain') >= 300_000, 'ordinary data is written');
});
