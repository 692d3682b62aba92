/**
 * A restore into an empty DEST that did not finish leaves DEST marked with what it was
 * restoring (host, sets, --path). A --force rerun patches that tree in place only when it
 * restores the same thing; asked for another state (here another --time, another --path), it
 * is refused and DEST stays as it was: patching would mix the two states. A marker that does
 * not say what it was restoring (cut short) is taken as a merge's: DEST's objects are kept.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { localBackupRig, missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';

const MARKER = '.deaddrop-restore.unfinished';
const nextSecond = () => new Promise((r) => setTimeout(r, 1100)); // a new second for the set name
const now = () => String(Math.floor(Date.now() / 1000));

test('restore --force after a failed restore, asked for another state', { skip: missingTools('cp') }, async (t) => {
  const tmp = tempDir('deaddrop-restore-other-state-');
  const src = join(tmp, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'f\n');
  writeFileSync(join(src, 'g'), 'g\n');
  const { key, client: c, backup } = await localBackupRig(tmp, src);
  await backup();
  const fullTime = now();
  await nextSecond();
  writeFileSync(join(src, 'new'), 'new\n');
  rmSync(join(src, 'f'));
  await backup();
  await nextSecond();
  writeFileSync(join(src, 'g'), 'g changed\n');
  await backup();
  const latestTime = now();

  const restore = (from: string, dest: string, ...extra: string[]) =>
    runDeaddrop(['restore', '--from', from, '--host', 'h1', '--key', key.plainKeyPath, '--to', dest, ...extra]);

  // the last incremental's volume cut: the full and the first incremental are restored, then it fails
  const bad = join(tmp, 'bad', 'h1');
  mkdirSync(join(tmp, 'bad'));
  assert.equal(spawnSync('cp', ['-a', c.sinkHostDir, bad]).status, 0);
  const vol = readdirSync(bad)
    .filter((n) => /^duplicity-inc\..*\.vol1\.difftar\.gz\.p7m$/.test(n))
    .sort()
    .pop()!;
  truncateSync(join(bad, vol), 2000);

  const dest = join(tmp, 'dest');
  const first = await restore(bad, dest);
  assert.equal(first.code, 1, first.stderr);
  assert.deepEqual(readdirSync(dest).sort(), [MARKER, 'g', 'new']);
  const before = join(tmp, 'before');
  assert.equal(spawnSync('cp', ['-a', dest, before]).status, 0);

  await t.test('another --time: refused, saying what DEST holds and how to go on; DEST unchanged', async () => {
    const r = await restore(c.sinkHostDir, dest, '--force', '--time', fullTime);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /dest holds part of a restore of h1 as of \S+ that did not finish \(marked by \S+dest\/\.deaddrop-restore\.unfinished\)/,
    );
    assert.match(
      r.stderr,
      /run that same restore again \(--host h1 --time \S+Z --force\) to finish it, or restore into an empty directory/,
    );
    // but for DEST's mtime: its lock came and went
    assert.deepEqual(compareTrees(before, dest, { skipDirTimes: true }), []);
  });

  await t.test('another --path: refused too', async () => {
    const r = await restore(c.sinkHostDir, dest, '--force', '--path', 'g');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /dest holds part of a restore of h1 as of \S+ that did not finish/);
    assert.deepEqual(compareTrees(before, dest, { skipDirTimes: true }), []);
  });

  await t.test(
    'a marker cut short (empty: a crash as it was written) does not say: merged into, not patched',
    async () => {
      const cut = join(tmp, 'cut-marker');
      assert.equal((await restore(bad, cut)).code, 1);
      writeFileSync(join(cut, MARKER), '');
      // an object of DEST's own, maybe: where the backup had f, which a later set deleted
      writeFileSync(join(cut, 'f'), 'mine\n');
      const r = await restore(c.sinkHostDir, cut, '--force');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(join(cut, 'f'), 'utf8'), 'mine\n', 'patched in place, the deletion of f would take it');
      assert.equal(readFileSync(join(cut, 'g'), 'utf8'), 'g changed\n');
      assert.equal(readFileSync(join(cut, 'new'), 'utf8'), 'new\n');
      assert.deepEqual(
        readdirSync(cut).filter((n) => n.startsWith('.deaddrop-restore')),
        [],
        'nothing of the restore is left',
      );
    },
  );

  await t.test('the same state (its --time given): resumed, byte-exact', async () => {
    const r = await restore(c.sinkHostDir, dest, '--force', '--time', latestTime);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(compareTrees(src, dest), []);
    assert.equal(readFileSync(join(dest, 'g'), 'utf8'), 'g changed\n');
    assert.deepEqual(
      readdirSync(dest).filter((n) => n.startsWith('.deaddrop-restore')),
      [],
      'nothing of the restore is left',
    );
  });
});
