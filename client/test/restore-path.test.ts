/**
 * --path restores a subtree reading only the volumes whose manifest range covers it: one small
 * file of a set cut in many small volumes comes from at most 2 of them (reported in --json);
 * a directory and a file spanning many volumes come back exact; incrementals are applied too.
 */
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';
import { makeChain } from './restore-helpers.js';

interface Report {
  volumesRead: number;
  volumes: string[];
  sets: { volumes: number }[];
}

test(
  '--path reads only the volumes that hold the subtree',
  { skip: missingTools('cp'), timeout: 300_000 },
  async () => {
    const tmp = tempDir('deaddrop-restore-path-');
    const chain = await makeChain(tmp, { incrementals: 1, volumeSize: '96KiB', sinks: 1 });
    const restore = async (out: string, paths: string[], time?: string) => {
      const r = await runDeaddrop(['restore', '--from', chain.sinks[0]!, '--host', 'testhost', '--key', chain.key.keyPath,
      '--passphrase-file', chain.key.passphraseFile, '--to', join(tmp, out), '--json',
      ...(time ? ['--time', time] : []), ...paths.flatMap((p) => ['--path', p])]); // prettier-ignore
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Report;
    };
    const [t0, t1] = chain.snapshots;

    const one = await restore('one', ['secret'], t0!.time);
    assert.ok(one.sets[0]!.volumes >= 4, `the full set has several volumes (${one.sets[0]!.volumes})`);
    assert.ok(one.volumesRead <= 2, `read ${one.volumesRead} volumes: ${one.volumes.join(', ')}`);
    assert.deepEqual(readdirSync(join(tmp, 'one')), ['secret']);
    const a = lstatSync(join(t0!.dir, 'secret'));
    const b = lstatSync(join(tmp, 'one', 'secret'));
    assert.deepEqual([b.mode, b.mtimeMs], [a.mode, a.mtimeMs]);
    assert.deepEqual(readFileSync(join(tmp, 'one', 'secret')), readFileSync(join(t0!.dir, 'secret')));

    // a directory, and a file cut across many volumes, at the latest time (incremental applied)
    const sub = await restore('sub', ['dir1', './huge.bin']);
    assert.ok(sub.volumesRead < sub.sets[0]!.volumes + sub.sets[1]!.volumes, 'not every volume was read');
    assert.deepEqual(readdirSync(join(tmp, 'sub')).sort(), ['dir1', 'huge.bin']);
    assert.deepEqual(compareTrees(join(t1!.dir, 'dir1'), join(tmp, 'sub', 'dir1')), []);
    assert.deepEqual(readFileSync(join(tmp, 'sub', 'huge.bin')), readFileSync(join(t1!.dir, 'huge.bin')));

    const missing = await runDeaddrop(['restore', '--from', chain.sinks[0]!, '--host', 'testhost', '--key', chain.key.keyPath,
    '--passphrase-file', chain.key.passphraseFile, '--to', join(tmp, 'none'), '--path', 'no/such/file']); // prettier-ignore
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /no\/such\/file/);

    // a path that is there and one that is not: the first is restored whole, directory
    // attributes included, then the second is reported (exit 1, not a usage error)
    const both = await runDeaddrop(['restore', '--from', chain.sinks[0]!, '--host', 'testhost', '--key', chain.key.keyPath,
    '--passphrase-file', chain.key.passphraseFile, '--to', join(tmp, 'both'), '--path', 'dir1', '--path', 'nosuch']); // prettier-ignore
    assert.equal(both.code, 1, both.stderr);
    assert.match(both.stderr, /not in the backup at that time: nosuch/);
    assert.deepEqual(compareTrees(join(t1!.dir, 'dir1'), join(tmp, 'both', 'dir1')), []);
  },
);
