/**
 * --path of a subtree that a later set deleted: not in the backup at that time, like a path
 * never backed up (exit 1, DEST left empty), though its entries are in the sets read. At a
 * time before the deletion it is restored. Only empty directories that are not part of the
 * restored state are removed above such a path.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTestRecipient, runDeaddrop, tempDir } from '@deaddrop/test';

test('--path of a subtree deleted by the chosen set', { timeout: 120_000 }, async (t) => {
  const tmp = tempDir('deaddrop-restore-path-deleted-');
  const src = join(tmp, 'src');
  mkdirSync(join(src, 'a'), { recursive: true });
  writeFileSync(join(src, 'a', 'f'), 'hi\n');
  writeFileSync(join(src, 'k'), 'keep\n');
  mkdirSync(join(src, 'emp'), { mode: 0o700 }); // an empty directory of the backup
  utimesSync(join(src, 'emp'), 978307200, 978307200);
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  mkdirSync(join(tmp, 'sink', 'testhost'), { recursive: true });
  const config = join(tmp, 'client.json');
  writeFileSync(config, JSON.stringify({ host: 'testhost', sources: [src], recipients: [key.certPath],
    sinks: [{ name: 's', url: `file://${tmp}/sink/testhost/` }], archiveDir: join(tmp, 'archive') })); // prettier-ignore
  const backup = async () => {
    const r = await runDeaddrop(['backup', '--config', config, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { time: string }).time;
  };
  const before = await backup();
  rmSync(join(src, 'a'), { recursive: true });
  await backup();

  let n = 0;
  const restore = async (paths: string[], time?: string) => {
    const out = join(tmp, `out${++n}`);
    const r = await runDeaddrop(['restore', '--from', join(tmp, 'sink'), '--host', 'testhost', '--key', key.keyPath,
      '--passphrase-file', key.passphraseFile, '--to', out, ...(time ? ['--time', time] : []),
      ...paths.flatMap((p) => ['--path', p])]); // prettier-ignore
    return { ...r, out };
  };
  const empty = (dir: string) => !existsSync(dir) || readdirSync(dir).length === 0;

  for (const p of ['a', 'a/f']) {
    await t.test(`--path ${p}, latest: refused, DEST empty`, async () => {
      const r = await restore([p]);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(`not in the backup at that time: ${p}`), r.stderr);
      assert.ok(empty(r.out), 'nothing restored');
    });
  }

  await t.test('--path a and k, latest: refused, naming only a', async () => {
    const r = await restore(['a', 'k']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /not in the backup at that time: a$/m);
  });

  await t.test('--path emp --path emp/absent: emp, an empty directory of the backup, stays', async () => {
    const r = await restore(['emp', 'emp/absent']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /not in the backup at that time: emp\/absent$/m);
    const st = statSync(join(r.out, 'emp'));
    assert.ok(st.isDirectory(), 'emp restored');
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal(st.mtimeMs, 978307200_000);
  });

  await t.test('--path a at the time before the deletion: restored', async () => {
    const r = await restore(['a'], before);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(r.out, 'a', 'f'), 'utf8'), 'hi\n');
  });
});
