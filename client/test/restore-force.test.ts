/**
 * restore --force into a DEST that holds other content: only the state at the chosen time
 * reaches DEST. An object that an earlier set held and a later one deleted or replaced does
 * not take DEST's object of that name with it; DEST's extra files stay, objects of the state
 * replace DEST's. A restore into an empty DEST that did not finish is finished by the next one
 * (--force) as if DEST had been empty: what a later set deleted goes. A failure after every set
 * was applied (here: a directory of DEST made immutable, which even root cannot chmod) says so,
 * and leaves DEST marked unfinished until a rerun finishes. So does a --force merge that stops
 * part way, DEST then half its own, half restored: the rerun merges again (what DEST held
 * besides still stays) and removes the marker. A restore killed outright (strace injects
 * SIGKILL) while it sets the directories' attributes leaves DEST marked and locked; the rerun
 * finishes it, DEST's own mode and mtime as backed up.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deaddropArgv, isRoot, localBackupRig, missingTools, runCommand, runDeaddrop, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';

const MARKER = '.deaddrop-restore.unfinished';

/** chattr +i / -i: a directory even root cannot write under or chmod (false where the file system has no such flag). */
const chattr = (flag: '+i' | '-i', path: string) => spawnSync('chattr', [flag, path]).status === 0;
const NO_CHATTR = !isRoot ? 'needs root (chattr +i)' : missingTools('chattr');
const LOCK = '.deaddrop-restore.lock';

test('restore --force touches DEST only with the state at the chosen time', { skip: missingTools('cp') }, async (t) => {
  const tmp = tempDir('deaddrop-restore-force-');
  const src = join(tmp, 'src');
  mkdirSync(join(src, 'data'), { recursive: true });
  writeFileSync(join(src, 'data', 'old'), 'old\n');
  writeFileSync(join(src, 'cfg'), 'a file in the full\n');
  writeFileSync(join(src, 'keep'), 'keep\n');
  mkdirSync(join(src, 'dir'));
  writeFileSync(join(src, 'dir', 'f'), 'f\n');
  chmodSync(join(src, 'dir'), 0o750);
  mkdirSync(join(src, 'empty'));
  const { key, client: c, backup } = await localBackupRig(tmp, src);
  await backup();
  // the incremental deletes data/ and turns cfg into a directory
  rmSync(join(src, 'data'), { recursive: true });
  rmSync(join(src, 'cfg'));
  mkdirSync(join(src, 'cfg'));
  writeFileSync(join(src, 'cfg', 'new'), 'new\n');
  await new Promise((r) => setTimeout(r, 1100)); // a new second for the set name
  await backup();

  const restore = (from: string, dest: string, ...extra: string[]) =>
    runDeaddrop(['restore', '--from', from, '--host', 'h1', '--key', key.plainKeyPath, '--to', dest, ...extra]);

  await t.test("a directory at the marker's name is no marker: refused, DEST keeps its own", async () => {
    const dest = join(tmp, 'odd-marker');
    mkdirSync(join(dest, 'data'), { recursive: true });
    writeFileSync(join(dest, 'data', 'important'), 'never backed up\n');
    mkdirSync(join(dest, MARKER));
    const r = await restore(c.sinkHostDir, dest, '--force');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /odd-marker\/\.deaddrop-restore\.unfinished: a directory, not the marker of a restore/);
    // a resume would have patched DEST in place: the incremental deletes data/, and data/important with it
    assert.equal(readFileSync(join(dest, 'data', 'important'), 'utf8'), 'never backed up\n');
    assert.ok(!existsSync(join(dest, 'keep')), 'nothing was restored');
  });

  await t.test("DEST's own objects stay, the state's replace DEST's", async () => {
    const dest = join(tmp, 'busy');
    mkdirSync(join(dest, 'data'), { recursive: true });
    writeFileSync(join(dest, 'data', 'important'), 'never backed up\n');
    writeFileSync(join(dest, 'data', 'old'), 'mine\n'); // named as in the full, which a later set deleted
    mkdirSync(join(dest, 'cfg'));
    writeFileSync(join(dest, 'cfg', 'local'), 'mine too\n');
    writeFileSync(join(dest, 'keep'), 'stale\n');
    mkdirSync(join(dest, 'dir'), { mode: 0o755 });
    writeFileSync(join(dest, 'dir', 'extra'), 'extra\n');
    const r = await restore(c.sinkHostDir, dest, '--force');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(dest, 'data', 'important'), 'utf8'), 'never backed up\n');
    assert.equal(readFileSync(join(dest, 'data', 'old'), 'utf8'), 'mine\n');
    assert.equal(readFileSync(join(dest, 'cfg', 'local'), 'utf8'), 'mine too\n');
    assert.equal(readFileSync(join(dest, 'cfg', 'new'), 'utf8'), 'new\n');
    assert.equal(readFileSync(join(dest, 'keep'), 'utf8'), 'keep\n');
    assert.equal(readFileSync(join(dest, 'dir', 'extra'), 'utf8'), 'extra\n');
    assert.equal(statSync(join(dest, 'dir')).mode & 0o777, 0o750, 'the directory takes the state attributes');
    assert.deepEqual(compareTrees(src, dest, { ignore: ['data', 'cfg/local', 'dir/extra'], skipDirTimes: true }), []);
    assert.deepEqual(
      readdirSync(dest).filter((n) => n.startsWith('.deaddrop-restore')),
      [],
      'nothing of the restore is left',
    );
  });

  // a copy of the host directory with the incremental's volume cut: the full is restored, then it fails
  const bad = join(tmp, 'bad', 'h1');
  mkdirSync(join(tmp, 'bad'));
  assert.equal(spawnSync('cp', ['-a', c.sinkHostDir, bad]).status, 0);
  const vol = readdirSync(bad).find((n) => /^duplicity-inc\..*\.vol1\.difftar\.gz\.p7m$/.test(n))!;
  truncateSync(join(bad, vol), 2000);

  await t.test('a restore into an empty DEST that failed is finished by the next, --force', async () => {
    const dest = join(tmp, 'resumed');
    const first = await restore(bad, dest);
    assert.equal(first.code, 1, first.stderr);
    assert.ok(existsSync(join(dest, 'data', 'old')), 'the full was restored');
    const r = await restore(c.sinkHostDir, dest, '--force');
    assert.equal(r.code, 0, r.stderr);
    // exactly the latest state: data/, which the incremental deleted, went too
    assert.deepEqual(compareTrees(src, dest), []);
  });

  await t.test(
    "killed while setting the directories' attributes: DEST stays marked and locked; the rerun finishes it",
    { skip: missingTools('strace') },
    async () => {
      const dest = join(tmp, 'killed-in-finish');
      // SIGKILL at the restore's first chmod(2): finish() setting the deepest directory's mode
      // (files take theirs by fchmod; the sets, the staging directory and the merge use no chmod)
      const inject = ['-o', '/dev/null', '-e', 'trace=chmod,fchmodat', '-e', 'inject=chmod,fchmodat:signal=KILL'];
      const argv = [...deaddropArgv(), 'restore', '--from', c.sinkHostDir, '--host', 'h1', '--key', key.plainKeyPath];
      const r = await runCommand('strace', [...inject, ...argv, '--to', dest]);
      assert.equal(r.signal, 'SIGKILL', `${r.code} ${r.stderr}`);
      assert.equal(readFileSync(join(dest, 'cfg', 'new'), 'utf8'), 'new\n', 'every set was applied');
      assert.ok(existsSync(join(dest, MARKER)), 'DEST is marked as unfinished');
      assert.ok(existsSync(join(dest, LOCK)), 'DEST was still locked (a lock of a process gone: taken over)');
      const again = await restore(c.sinkHostDir, dest, '--force');
      assert.equal(again.code, 0, again.stderr);
      // the root too: its mode and mtime as backed up, though the marker and the lock went after finish()
      assert.deepEqual(compareTrees(src, dest), []);
      assert.deepEqual(
        readdirSync(dest).filter((n) => n.startsWith('.deaddrop-restore')),
        [],
        'neither marker nor lock is left',
      );
    },
  );

  await t.test(
    'a failure after every set was applied says so, and a rerun finishes',
    { skip: NO_CHATTR },
    async (t) => {
      const dest = join(tmp, 'finish-fails');
      const first = await restore(bad, dest);
      assert.equal(first.code, 1, first.stderr);
      // the rerun (--force) applies every set, then cannot set the attributes of empty/
      if (!chattr('+i', join(dest, 'empty'))) return t.skip('chattr +i: not on this file system');
      try {
        const r = await restore(c.sinkHostDir, dest, '--force');
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /empty/);
        assert.match(
          r.stderr,
          /; every set was applied and checked out, but setting the directories' mode, owner and mtime did not finish: \S+finish-fails holds the restored state, but .*\(.*\), marked by \S+finish-fails\/\.deaddrop-restore\.unfinished: run again with --force$/m,
        );
        assert.doesNotMatch(r.stderr, /older state/);
        assert.ok(existsSync(join(dest, MARKER)), 'DEST is marked as unfinished');
      } finally {
        chattr('-i', join(dest, 'empty'));
      }
      const again = await restore(c.sinkHostDir, dest, '--force');
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(compareTrees(src, dest), []);
      assert.ok(!existsSync(join(dest, MARKER)), 'the marker went with the restore that finished');
    },
  );

  await t.test('a --force merge refused part way: DEST marked unfinished; fixed, the rerun finishes', async () => {
    const dest = join(tmp, 'merge-refused');
    const elsewhere = join(tmp, 'elsewhere');
    mkdirSync(elsewhere);
    mkdirSync(dest);
    writeFileSync(join(dest, 'keep'), 'stale\n');
    // dir/, made only as the parent of --path dir/f, may not go under a symlink of DEST's
    symlinkSync(elsewhere, join(dest, 'dir'));
    const args = ['--force', '--path', 'keep', '--path', 'cfg', '--path', 'dir/f'];
    const r = await restore(c.sinkHostDir, dest, ...args);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(existsSync(join(dest, MARKER)), 'DEST is marked as unfinished');
    assert.match(
      r.stderr,
      /merge-refused\/dir: is a symlink: refusing to write under it; every set was applied and checked out, but moving the restored tree into DEST did not finish: \S+merge-refused holds part of the restored state, the rest as it was \(.*\), marked by \S+merge-refused\/\.deaddrop-restore\.unfinished: run again with --force$/m,
    );
    assert.deepEqual(readdirSync(elsewhere), [], 'nothing went through the symlink');
    rmSync(join(dest, 'dir'));
    const again = await restore(c.sinkHostDir, dest, ...args);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(!existsSync(join(dest, MARKER)), 'the marker went with the restore that finished');
    assert.equal(readFileSync(join(dest, 'keep'), 'utf8'), 'keep\n');
    assert.equal(readFileSync(join(dest, 'dir', 'f'), 'utf8'), 'f\n');
    assert.deepEqual(compareTrees(join(src, 'cfg'), join(dest, 'cfg')), []);
  });

  await t.test(
    'a --force merge that fails part way: the rerun merges again, DEST keeps its own',
    { skip: NO_CHATTR },
    async (t) => {
      const dest = join(tmp, 'merge-fails');
      mkdirSync(join(dest, 'data'), { recursive: true });
      writeFileSync(join(dest, 'data', 'important'), 'never backed up\n');
      writeFileSync(join(dest, 'mine'), 'mine\n');
      mkdirSync(join(dest, 'dir'));
      // the merge goes into DEST's dir/, where not even root may place dir/f
      if (!chattr('+i', join(dest, 'dir'))) return t.skip('chattr +i: not on this file system');
      try {
        const r = await restore(c.sinkHostDir, dest, '--force');
        assert.equal(r.code, 1, r.stderr);
        assert.ok(existsSync(join(dest, MARKER)), 'DEST is marked as unfinished');
        assert.match(
          r.stderr,
          /every set was applied and checked out, but moving the restored tree into DEST did not finish: \S+merge-fails holds part of the restored state, the rest as it was \(.*\), marked by \S+merge-fails\/\.deaddrop-restore\.unfinished: run again with --force$/m,
        );
      } finally {
        chattr('-i', join(dest, 'dir'));
      }
      const again = await restore(c.sinkHostDir, dest, '--force');
      assert.equal(again.code, 0, again.stderr);
      // merged again, not patched in place: the full's data/, which the incremental deleted, took nothing of DEST's
      assert.equal(readFileSync(join(dest, 'data', 'important'), 'utf8'), 'never backed up\n');
      assert.equal(readFileSync(join(dest, 'mine'), 'utf8'), 'mine\n');
      assert.deepEqual(compareTrees(src, dest, { ignore: ['data', 'mine'], skipDirTimes: true }), []);
      assert.deepEqual(
        readdirSync(dest).filter((n) => n.startsWith('.deaddrop-restore')),
        [],
        'nothing of the restore is left',
      );
    },
  );
});
