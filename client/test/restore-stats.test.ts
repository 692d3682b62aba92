/**
 * The restore summary counts the restored tree: a file patched or replaced by an incremental
 * counts once, with its new size, and a deleted one not at all.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  makeTestRecipient,
  missingTools,
  runDeaddrop,
  seededBytes,
  tempDir,
  treeListing,
  writeLocalClientConfig,
} from '@deaddrop/test';

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
    symlinkSync('small', join(src, 'link'));
    const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
    const c = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath] });
    const backup = async () => {
      const r = await runDeaddrop(['backup', '--config', c.config]);
      assert.equal(r.code, 0, r.stderr);
    };
    await backup();
    // a delta for big (it grows), small sent whole again, d/gone deleted, a new file
    writeFileSync(join(src, 'big'), Buffer.concat([big, seededBytes('more', 100_000)]));
    writeFileSync(join(src, 'small'), 'smaller or larger\n');
    rmSync(join(src, 'd', 'gone'));
    writeFileSync(join(src, 'new'), 'new\n');
    await new Promise((r) => setTimeout(r, 1100)); // a new second for the set name
    await backup();

    const out = join(tmp, 'out');
    const r = await runDeaddrop(['restore', '--json', '--from', c.sinkHostDir, '--host', 'h1', '--key', key.plainKeyPath, '--to', out]); // prettier-ignore
    assert.equal(r.code, 0, r.stderr);
    const { stats } = JSON.parse(r.stdout) as { stats: Record<string, number> };
    assert.deepEqual(
      { files: stats.files, bytes: stats.bytes, dirs: stats.dirs, links: stats.links },
      { files: 3, bytes: 3_100_000 + 'smaller or larger\n'.length + 'new\n'.length, dirs: 2, links: 1 },
    );
    assert.deepEqual(treeListing(out), treeListing(src));
  },
);
