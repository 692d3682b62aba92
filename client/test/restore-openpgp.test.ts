/**
 * duplicity's default encryption is OpenPGP (gpg), which deaddrop does not decrypt: such a set
 * is refused by name, pointing to duplicity itself (it once passed as plaintext and "restored"
 * 0 files, exit 0).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { openPayload } from '@deaddrop/client/restore/payload';
import type { RestoreSource } from '@deaddrop/client/restore/source';
import { missingTools, runCommand, runDeaddrop, tempDir } from '@deaddrop/test';

const noKey = () => Promise.reject(new Error('no key should be needed'));

/** A source of one in-memory file. */
function oneFile(name: string, bytes: Buffer): RestoreSource {
  return {
    where: 'mem',
    list: async () => new Map([[name, bytes.length]]),
    open: async () => Readable.from([bytes]),
    readSmall: async () => bytes,
    close: () => {},
  };
}

async function drain(it: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of it);
}

test('OpenPGP packets and armor under a .gpg name are refused; plaintext still passes', async () => {
  const name = 'duplicity-full.20261101T031500Z.manifest.gpg';
  const refused =
    /^DeaddropError: duplicity-full\.20261101T031500Z\.manifest\.gpg: OpenPGP-encrypted \(duplicity's gpg\): deaddrop cannot decrypt it; restore it with duplicity, see docs\/RESTORE\.md$/;
  for (const head of [
    [0x8c, 0x0d, 0x04, 0x09],
    [0x85, 0x02, 0x0c, 0x03],
    [0xc3, 0x0d],
    [0xa3, 0x01],
  ])
    await assert.rejects(
      async () => drain(await openPayload(oneFile(name, Buffer.from(head)), name, noKey, {})),
      refused,
    );
  const armor = Buffer.from('-----BEGIN PGP MESSAGE-----\n\njA0ECQMC\n-----END PGP MESSAGE-----\n');
  await assert.rejects(async () => drain(await openPayload(oneFile(name, armor), name, noKey, {})), refused);
  const plain = Buffer.from('Hostname h\n');
  const parts: Buffer[] = [];
  for await (const c of await openPayload(oneFile(name, plain), name, noKey, {})) parts.push(c);
  assert.deepEqual(Buffer.concat(parts), plain);
});

test(
  'a duplicity set encrypted with gpg: refused by name, exit 1',
  { skip: missingTools('duplicity', 'gpg'), timeout: 120_000 },
  async () => {
    const tmp = tempDir('deaddrop-restore-openpgp-');
    const src = join(tmp, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'file'), 'data\n');
    const gnupg = join(tmp, 'gnupg');
    mkdirSync(gnupg, { mode: 0o700 });
    const env = { ...process.env, HOME: tmp, GNUPGHOME: gnupg, PASSPHRASE: 'secret' };
    const target = join(tmp, 'legacy');
    const d = await runCommand('duplicity', ['full', '--archive-dir', join(tmp, 'cache'), src, `file://${target}`], {
      env,
    });
    assert.equal(d.code, 0, d.stdout + d.stderr);
    const manifest = readdirSync(target).find((n) => n.endsWith('.manifest.gpg'))!;

    for (const args of [
      ['restore', '--from', target, '--host', 'x', '--to', join(tmp, 'out')],
      ['list', '--from', target, '--host', 'x', '--files'],
    ]) {
      const r = await runDeaddrop(args);
      assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
      assert.ok(
        r.stderr.includes(
          `${manifest}: OpenPGP-encrypted (duplicity's gpg): deaddrop cannot decrypt it; restore it with duplicity`,
        ),
        r.stderr,
      );
    }
  },
);
