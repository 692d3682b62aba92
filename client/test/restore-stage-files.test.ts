/**
 * Small restored files made on the thread pool (restore/stage-files.ts, client/native/stage.c):
 * each holds its bytes (or, a hole, its size of zeros without a block written), its mode, mtime
 * and, as root, its owner, whatever batch it went in; the caller's buffer may change once
 * stage() returns; an error (the file exists, its directory is gone) is thrown as node:fs
 * throws it, naming the file. Without the addon built these tests skip; in CI that is a failure.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileStager } from '@deaddrop/client/restore/stage-files';
import { missingUnless, POOL_ADDONS_MISSING, seededBytes } from '@deaddrop/test';

const skip = missingUnless(FileStager.create() !== undefined, POOL_ADDONS_MISSING);
const root = process.getuid?.() === 0;

function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'stage-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('300 files in batches: bytes, holes, mode, mtime and owner as asked', { skip }, async (t) => {
  const dir = scratch(t);
  const stager = FileStager.create()!;
  const files = Array.from({ length: 300 }, (_, i) => ({
    path: join(dir, `f${i}`),
    data: i % 50 === 7 ? Buffer.alloc(20_000) : seededBytes(`s${i}`, (i * 997) % 40_000),
    mode: [0o644, 0o600, 0o4755, 0o000][i % 4]!,
    mtime: 1_600_000_000 + i + (i % 3) * 0.25,
    uid: root ? 1000 + (i % 3) : undefined,
    gid: root ? 2000 + (i % 5) : undefined,
  }));
  for (const f of files) {
    const hole = f.data.length > 0 && f.data.every((b) => b === 0);
    const copy = Buffer.from(f.data);
    const wait = stager.stage(f.path, copy, hole, copy.length, f);
    copy.fill(0xee); // the stager copied it
    if (wait) await wait;
  }
  await stager.idle();
  for (const f of files) {
    const st = statSync(f.path);
    assert.ok(readFileSync(f.path).equals(f.data), f.path);
    assert.equal(st.mode & 0o7777, f.mode, f.path);
    assert.equal(st.mtimeMs, f.mtime * 1000, f.path);
    if (root) assert.deepEqual([st.uid, st.gid], [f.uid, f.gid], f.path);
    if (f.data.length === 20_000) assert.equal(st.blocks, 0, `${f.path}: a hole, no block written`);
  }
});

test('a file that exists already: EEXIST, naming it, from idle()', { skip }, async (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, 'there'), 'mine');
  const stager = FileStager.create()!;
  stager.stage(join(dir, 'a'), Buffer.from('a'), false, 1, { mode: 0o644, mtime: 1 });
  stager.stage(join(dir, 'there'), Buffer.from('theirs'), false, 6, { mode: 0o644, mtime: 1 });
  await assert.rejects(stager.idle(), (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, 'EEXIST');
    assert.equal(err.syscall, 'open');
    assert.equal(err.path, join(dir, 'there'));
    assert.match(err.message, /^EEXIST: file already exists, open '.*there'$/);
    return true;
  });
  assert.equal(readFileSync(join(dir, 'there'), 'utf8'), 'mine', 'left as it was');
  assert.throws(() => stager.stage(join(dir, 'b'), Buffer.from('b'), false, 1, { mode: 0o644, mtime: 1 }), {
    code: 'EEXIST',
  });
  await stager.abandon();
});

test('a directory gone: ENOENT from the stage() that waits, or from idle()', { skip }, async (t) => {
  const dir = scratch(t);
  const stager = FileStager.create()!;
  const gone = join(dir, 'gone');
  const p = (async () => {
    for (let i = 0; i < 1000; i++)
      await stager.stage(join(gone, `f${i}`), Buffer.alloc(10, 1), false, 10, { mode: 0o600, mtime: 1 });
    await stager.idle();
  })();
  await assert.rejects(p, { code: 'ENOENT', syscall: 'open' });
  await stager.abandon();
});

test(
  'an owner id out of range (a crafted archive) is refused as node:fs refuses it, never cast to root',
  { skip },
  async (t) => {
    const dir = scratch(t);
    const stager = FileStager.create()!;
    for (const [uid, gid] of [
      [2 ** 32 + 1000, 0],
      [0, 2 ** 32],
      [-2, 0],
      [1.5, 0],
    ])
      assert.throws(
        () => stager.stage(join(dir, 'f'), Buffer.from('x'), false, 1, { mode: 0o4755, mtime: 1, uid, gid }),
        {
          code: 'ERR_OUT_OF_RANGE',
        },
      );
    await stager.idle();
    assert.deepEqual(readdirSync(dir), [], 'nothing made');
  },
);
