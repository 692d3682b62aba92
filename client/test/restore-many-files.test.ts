/**
 * A restore stages every object it makes (apply.ts), 256 to a staging directory: a set of more
 * objects than that (files, symlinks, deltas of an incremental) restores byte for byte.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { localBackupRig, missingTools, runDeaddrop, seededBytes, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';

const nextSecond = () => new Promise((r) => setTimeout(r, 1100)); // a new second for the set name

test(
  'a full and an incremental of 700 objects each restore byte for byte',
  { skip: missingTools('openssl') },
  async () => {
    const tmp = tempDir('deaddrop-restore-many-');
    const src = join(tmp, 'src');
    for (let d = 0; d < 7; d++) mkdirSync(join(src, `d${d}`), { recursive: true });
    const name = (i: number) => join(src, `d${i % 7}`, `f${i}`);
    for (let i = 0; i < 600; i++) writeFileSync(name(i), seededBytes(`f${i}`, 100 + ((i * 37) % 3000)));
    for (let i = 0; i < 100; i++) symlinkSync(`f${i}`, join(src, `d${i % 7}`, `l${i}`));
    const { key, client, backup } = await localBackupRig(tmp, src);
    await backup();
    await nextSecond();
    for (let i = 0; i < 600; i += 2)
      writeFileSync(name(i), Buffer.concat([seededBytes(`f${i}`, 200), Buffer.from('changed')]));
    await backup();

    const dest = join(tmp, 'dest');
    const r = await runDeaddrop([
      'restore',
      '--from',
      client.sinkHostDir,
      '--host',
      'h1',
      '--key',
      key.plainKeyPath,
      '--to',
      dest,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(compareTrees(src, dest), []);
  },
);
