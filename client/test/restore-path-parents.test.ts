/**
 * The directories above a --path: the cleanup of those left empty above a path not in the
 * backup never passes through a symlink the restore put there (it would remove what is
 * outside DEST).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTestRecipient, runDeaddrop, tempDir } from '@deaddrop/test';

test('the directories above a --path', { timeout: 120_000 }, async (t) => {
  const tmp = tempDir('deaddrop-restore-path-parents-');
  const src = join(tmp, 'src');
  const outside = join(tmp, 'outside');
  mkdirSync(src);
  mkdirSync(outside);
  symlinkSync(outside, join(src, 'abs')); // restored as is: a symlink out of DEST
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

  await t.test('--path abs --path abs/b/c: the empty directory abs/b, outside DEST, stays', async () => {
    mkdirSync(join(outside, 'b'));
    const r = await restore(['abs', 'abs/b/c']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /not in the backup at that time: abs\/b\/c$/m);
    assert.ok(existsSync(join(outside, 'b')), 'nothing removed through the restored symlink');
  });
});
