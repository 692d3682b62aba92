/**
 * The restore summary counts the restored tree: a file patched or replaced by an incremental
 * counts once, with its new size, and a deleted one (or one below a deleted directory) not at
 * all; over an earlier restore (--force), what DEST held before is not counted.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { localBackupRig, missingTools, runDeaddrop, seededBytes, tempDir, treeListing } from '@deaddrop/test';

test(
  'restore stats after a full and an incremental are those of the restored tree',
  { skip: missingTools('openssl') },
  async () => {
    const tmp = tempDir('deaddrop-restore-stats-');
    const src = join(tmp, 'src');
    mkdirSync(join(src, 'd'), { recursive: true });
    const big = seededBytes('big', 3_000_000);
    writeFileSync(join(src, 'big'), big);
    writeFileSync(join(src, 'small'), 'small\n');
    writeFileSync(join(src, 'd', 'gone'), 'gone\n');
    mkdirSync(join(src, 'D', 'E'), { recursive: true });
    for (const f of ['f1', 'f2', 'E/f3']) writeFileSync(join(src, 'D', f), 'deleted with its directory\n');
    symlinkSync('small', join(src, 'link'));
    const { key, client: c, backup } = await localBackupRig(tmp, src);
    await backup();
    // a delta for big (it grows), small sent whole again, d/gone and D/ deleted, a new file
    writeFileSync(join(src, 'big'), Buffer.concat([big, seededBytes('more', 100_000)]));
    writeFileSync(join(src, 'small'), 'smaller or larger\n');
    rmSync(join(src, 'd', 'gone'));
    rmSync(join(src, 'D'), { recursive: true });
    writeFileSync(join(src, 'new'), 'new\n');
    await new Promise((r) => setTimeout(r, 1100)); // a new second for the set name
    await backup();

    const out = join(tmp, 'out');
    const expected = { files: 3, bytes: 3_100_000 + 'smaller or larger\n'.length + 'new\n'.length, dirs: 2, links: 1 };
    // and again over the first restore (--force): what DEST already held is not this restore's
    for (const force of [[], ['--force']]) {
      const r = await runDeaddrop(['restore', '--json', ...force, '--from', c.sinkHostDir, '--host', 'h1', '--key', key.plainKeyPath, '--to', out]); // prettier-ignore
      assert.equal(r.code, 0, r.stderr);
      const { stats } = JSON.parse(r.stdout) as { stats: Record<string, number> };
      const got = { files: stats.files, bytes: stats.bytes, dirs: stats.dirs, links: stats.links };
      assert.deepEqual(got, expected, force.join(' '));
      assert.deepEqual(treeListing(out), treeListing(src));
    }
  },
);
