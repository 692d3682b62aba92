/**
 * The directories above a --path: restored with the backup's mode, mtime and owner, as a full
 * restore restores them (a private directory stays private); the cleanup of those left empty
 * above a path not in the backup never passes through a symlink the restore put there (it
 * would remove what is outside DEST).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTestRecipient, runDeaddrop, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';

test('the directories above a --path', { timeout: 120_000 }, async (t) => {
  const tmp = tempDir('deaddrop-restore-path-parents-');
  const src = join(tmp, 'src');
  const outside = join(tmp, 'outside');
  mkdirSync(src);
  mkdirSync(outside);
  symlinkSync(outside, join(src, 'abs')); // restored as is: a symlink out of DEST
  mkdirSync(join(src, 'root'), { mode: 0o700 });
  writeFileSync(join(src, 'root', 'secret.txt'), 'secret\n', { mode: 0o644 });
  utimesSync(join(src, 'root'), 978307200, 978307200);
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  mkdirSync(join(tmp, 'sink', 'testhost'), { recursive: true });
  const config = join(tmp, 'client.json');
  writeFileSync(config, JSON.stringify({ host: 'testhost', sources: [src], recipients: [key.certPath],
    sinks: [{ name: 's', url: `file://${tmp}/sink/testhost/` }], archiveDir: join(tmp, 'archive') })); // prettier-ignore
  const b = await runDeaddrop(['backup', '--config', config]);
  assert.equal(b.code, 0, b.stderr);

  let n = 0;
  const restore = async (paths: string[]) => {
    const out = join(tmp, `out${++n}`);
    const r = await runDeaddrop(['restore', '--from', join(tmp, 'sink'), '--host', 'testhost', '--key', key.keyPath,
      '--passphrase-file', key.passphraseFile, '--to', out, ...paths.flatMap((p) => ['--path', p])]); // prettier-ignore
    return { ...r, out };
  };

  await t.test('--path root/secret.txt: root/ as in the backup (0700), as a full restore has it', async () => {
    const full = await restore([]);
    assert.equal(full.code, 0, full.stderr);
    const r = await restore(['root/secret.txt']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(join(r.out, 'root')).mode & 0o7777, 0o700);
    assert.deepEqual(compareTrees(join(full.out, 'root'), join(r.out, 'root')), []);
    assert.deepEqual(compareTrees(join(src, 'root'), join(r.out, 'root')), []);
  });

  await t.test('--path abs --path abs/b/c: the empty directory abs/b, outside DEST, stays', async () => {
    mkdirSync(join(outside, 'b'));
    const r = await restore(['abs', 'abs/b/c']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /not in the backup at that time: abs\/b\/c$/m);
    assert.ok(existsSync(join(outside, 'b')), 'nothing removed through the restored symlink');
  });
});
