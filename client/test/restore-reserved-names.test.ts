/**
 * The backup's content is untrusted (the host that made it may be compromised) and shares
 * DEST's root with the restore's own names: its marker, its lock, its staging directories.
 * A backup's entries of those names at its root are not restored (a warning names each); a
 * symlink at the marker's name (left by an older version) is refused, never written through.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { localBackupRig, missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';

const MARKER = '.deaddrop-restore.unfinished';
const LOCK = '.deaddrop-restore.lock';
const STAGING = '.deaddrop-restore-abcdef';
const RESERVED = [MARKER, LOCK, STAGING];

test("a backup that holds the restore's own names at its root", { skip: missingTools('cp') }, async (t) => {
  const tmp = tempDir('deaddrop-restore-reserved-');
  const outside = join(tmp, 'outside');
  mkdirSync(outside);
  const victim = join(outside, 'victim');
  const src = join(tmp, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'f\n');
  writeFileSync(join(src, 'g'), 'g\n');
  symlinkSync(victim, join(src, MARKER));
  writeFileSync(join(src, LOCK), 'not a lock\n');
  mkdirSync(join(src, STAGING));
  writeFileSync(join(src, STAGING, 'x'), 'x\n');
  const { key, client: c, backup } = await localBackupRig(tmp, src);
  await backup();
  writeFileSync(join(src, 'g'), 'g changed\n');
  await new Promise((r) => setTimeout(r, 1100)); // a new second for the set name
  await backup();

  const restore = (from: string, dest: string, ...extra: string[]) =>
    runDeaddrop(['restore', '--from', from, '--host', 'h1', '--key', key.plainKeyPath, '--to', dest, ...extra]);
  const ours = (dest: string) => readdirSync(dest).filter((n) => n.startsWith('.deaddrop-restore'));

  await t.test('not restored: a warning names each, the stats leave them out, the rest restores', async () => {
    const dest = join(tmp, 'plain');
    const r = await restore(c.sinkHostDir, dest, '--json');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { warnings: string[]; stats: { files: number; links: number } };
    for (const name of RESERVED)
      assert.ok(
        report.warnings.some(
          (w) => w.startsWith(`${name}: not restored`) && /reserved for the restore's own use/.test(w),
        ),
        `${name}: ${JSON.stringify(report.warnings)}`,
      );
    assert.equal(report.stats.files, 2, "f and g, not the lock nor the staging directory's x");
    assert.equal(report.stats.links, 0);
    assert.deepEqual(ours(dest), []);
    assert.ok(!existsSync(victim), 'nothing outside DEST');
    assert.deepEqual(compareTrees(src, dest, { ignore: RESERVED, skipDirTimes: true }), []);
    // the text output says so too
    const text = await restore(c.sinkHostDir, join(tmp, 'plain-text'));
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stderr,
      /^warning: \.deaddrop-restore\.unfinished: not restored: .*reserved for the restore's own use/m,
    );
  });

  // the incremental's volume cut: the full is restored, then the restore fails
  const bad = join(tmp, 'bad', 'h1');
  mkdirSync(join(tmp, 'bad'));
  assert.equal(spawnSync('cp', ['-a', c.sinkHostDir, bad]).status, 0);
  const vol = readdirSync(bad).find((n) => /^duplicity-inc\..*\.vol1\.difftar\.gz\.p7m$/.test(n))!;
  truncateSync(join(bad, vol), 2000);

  await t.test("a failed restore, then --force: nothing written through the backup's symlink", async () => {
    const dest = join(tmp, 'failed');
    const first = await restore(bad, dest);
    assert.equal(first.code, 1, first.stderr);
    const again = await restore(c.sinkHostDir, dest, '--force');
    assert.ok(!existsSync(victim), 'nothing outside DEST');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(ours(dest), []);
    assert.deepEqual(compareTrees(src, dest, { ignore: RESERVED, skipDirTimes: true }), []);
  });

  await t.test("a symlink at the marker's name is not a marker: refused, not followed", async () => {
    for (const force of [[], ['--force']]) {
      const dest = join(tmp, `symlinked${force.length}`);
      mkdirSync(dest);
      symlinkSync(victim, join(dest, MARKER));
      if (force.length) writeFileSync(join(dest, 'mine'), 'mine\n');
      const r = await restore(c.sinkHostDir, dest, ...force);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /symlinked\d\/\.deaddrop-restore\.unfinished: a symlink, not the marker of a restore/);
      assert.ok(!existsSync(victim), 'nothing outside DEST');
      assert.ok(lstatSync(join(dest, MARKER)).isSymbolicLink(), 'left as it was');
      assert.ok(!existsSync(join(dest, 'f')), 'nothing restored');
    }
  });

  await t.test("a symlink at the lock's name: refused, not followed", async () => {
    const dest = join(tmp, 'symlinked-lock');
    mkdirSync(dest);
    writeFileSync(victim, 'victim\n');
    try {
      symlinkSync(victim, join(dest, LOCK));
      const r = await restore(c.sinkHostDir, dest);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /symlinked-lock\/\.deaddrop-restore\.lock: a symlink, not the lock of a restore/);
      assert.equal(readFileSync(victim, 'utf8'), 'victim\n');
      assert.ok(lstatSync(join(dest, LOCK)).isSymbolicLink(), 'left as it was');
    } finally {
      rmSync(victim);
    }
  });
});
