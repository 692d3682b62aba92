/**
 * --path restores a subtree reading only the volumes whose manifest range covers it: one small
 * file of a set cut in many small volumes comes from at most 2 of them (reported in --json);
 * a directory and a file spanning many volumes come back exact; incrementals are applied too.
 * A path may also be given as the backed-up host names it (absolute, under the backup root).
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';
import { makeChain } from './restore-helpers.js';

interface Report {
  root: string;
  paths: string[];
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

    // a path as the backed-up host names it: absolute, under the sets' backup root (Localdir)
    const root = realpathSync(chain.src);
    const abs = await restore('abs', [`${root}/dir1/`]);
    assert.deepEqual(abs.paths, ['dir1']);
    assert.equal(abs.root, root); // what the restored tree stands for
    assert.deepEqual(readdirSync(join(tmp, 'abs')), ['dir1']);
    assert.deepEqual(compareTrees(join(t1!.dir, 'dir1'), join(tmp, 'abs', 'dir1')), []);
    const whole = await restore('whole', [root]);
    assert.deepEqual(whole.paths, ['.']);
    assert.deepEqual(compareTrees(t1!.dir, join(tmp, 'whole')), []);
    const run = (out: string, path: string) => runDeaddrop(['restore', '--from', chain.sinks[0]!, '--host', 'testhost',
      '--key', chain.key.keyPath, '--passphrase-file', chain.key.passphraseFile, '--to', join(tmp, out), '--path', path]); // prettier-ignore
    // outside the root (a sibling whose name starts alike too): a usage error naming both, nothing written
    for (const outside of ['/etc/passwd', `${root}x/dir1`]) {
      const r = await run('outside', outside);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(`--path ${outside}: not under ${root}, the backup root`), r.stderr);
      assert.equal(existsSync(join(tmp, 'outside')), false);
    }
    const gone = await run('gone', `${root}/no/such`);
    assert.equal(gone.code, 1, gone.stderr);
    assert.ok(gone.stderr.includes(`not in the backup at that time: ${root}/no/such`), gone.stderr);
    // verify maps it the same way: the subtree compared with the live one
    const v = await runDeaddrop(['verify', '--from', chain.sinks[0]!, '--host', 'testhost', '--key', chain.key.keyPath,
      '--passphrase-file', chain.key.passphraseFile, '--against', root, '--path', `${root}/dir1`, '--json']); // prettier-ignore
    assert.equal(v.code, 0, v.stderr + v.stdout);
    const compared = (JSON.parse(v.stdout) as { compared: number }).compared;
    assert.equal(compared, countUnder(join(root, 'dir1')));
  },
);

/** Objects at and below `dir` (itself included), as verify counts what it compared. */
function countUnder(dir: string): number {
  const st = lstatSync(dir);
  if (!st.isDirectory()) return 1;
  return 1 + readdirSync(dir).reduce((n, name) => n + countUnder(join(dir, name)), 0);
}
