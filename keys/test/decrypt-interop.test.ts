import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import {
  makeGpgsmHome,
  makeTestRecipient,
  missingTools,
  runDeaddrop,
  tempDir,
  type TestRecipient,
} from '@deaddrop/test';
import type { GpgsmRunner } from '@deaddrop/test';
import { decryptWithLibrary, mustRun, sha256File, writeRandomFile } from './helpers.js';

// What the stock tools write, decrypted by deaddrop byte-exact: openssl smime/cms with -stream
// (BER indefinite, constructed content), without it (definite, primitive content), gpgsm with
// its default AES-128 and other ciphers, and openssl's SubjectKeyIdentifier and OAEP variants.
const skip = missingTools('openssl', 'gpgsm', 'gpgconf');
const dir = tempDir();

type Producer = (plain: string, out: string) => Promise<void>;

describe('stock tools encrypt -> deaddrop decrypt', { skip }, () => {
  let holder: TestRecipient;
  let gpgsm: GpgsmRunner;
  let gpgsmFingerprint: string;
  const inputs: [string, string, string][] = []; // label, path, sha256
  before(async () => {
    holder = await makeTestRecipient(dir, { cn: 'Decrypt interop' });
    gpgsm = makeGpgsmHome(dir, holder.certPath, holder.keyPath, holder.passphrase);
    const listed = await gpgsm(['--with-colons', '--list-keys']);
    gpgsmFingerprint = /^fpr:+([0-9A-F]+):/m.exec(listed.stdout)![1]!;
    for (const [label, size] of [
      ['empty', 0],
      ['1 byte', 1],
      ['16 bytes', 16],
      ['3 MB', 3_000_001],
    ] as const) {
      const path = join(dir, `in-${size}`);
      const sha =
        size < 100
          ? (writeFileSync(path, 'x'.repeat(size)), await sha256File(path))
          : await writeRandomFile(path, size);
      inputs.push([label, path, sha]);
    }
  });

  const openssl =
    (...args: string[]): Producer =>
    (plain, out) =>
      mustRun('openssl', [...args, '-binary', '-outform', 'DER', '-in', plain, '-out', out, holder.certPath]);
  const producers: [string, Producer][] = [
    ['openssl smime -encrypt -stream (aes256, indefinite)', openssl('smime', '-encrypt', '-aes256', '-stream')],
    ['openssl smime -encrypt (definite)', openssl('smime', '-encrypt', '-aes256')],
    ['openssl cms -encrypt (definite, primitive content)', openssl('cms', '-encrypt', '-aes256')],
    ['openssl cms -encrypt -aes128', openssl('cms', '-encrypt', '-aes128')],
    ['openssl cms -encrypt -stream', openssl('cms', '-encrypt', '-aes256', '-stream')],
    ['openssl cms -encrypt -des3', openssl('cms', '-encrypt', '-des3')],
    ['openssl cms -encrypt -keyid (SubjectKeyIdentifier rid)', openssl('cms', '-encrypt', '-aes256', '-keyid')],
    [
      'openssl cms -encrypt RSAES-OAEP',
      (plain, out) =>
        mustRun('openssl', ['cms', '-encrypt', '-aes256', '-binary', '-outform', 'DER', '-in', plain, '-out', out,
          '-recip', holder.certPath, '-keyopt', 'rsa_padding_mode:oaep']), // prettier-ignore
    ],
    [
      'openssl cms -encrypt RSAES-OAEP SHA-256 with a label',
      (plain, out) =>
        mustRun('openssl', ['cms', '-encrypt', '-aes256', '-binary', '-outform', 'DER', '-in', plain, '-out', out,
          '-recip', holder.certPath, '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256',
          '-keyopt', 'rsa_oaep_label:6465616464726f70']), // prettier-ignore
    ],
    ['gpgsm --encrypt (default AES-128)', gpgsmEncrypt([])],
    ['gpgsm --encrypt --cipher-algo AES256', gpgsmEncrypt(['--cipher-algo', 'AES256'])],
    ['gpgsm --encrypt --cipher-algo 3DES', gpgsmEncrypt(['--cipher-algo', '3DES'])],
  ];

  function gpgsmEncrypt(extra: string[]): Producer {
    return async (plain, out) => {
      const r = await gpgsm([...extra, '--encrypt', '-r', gpgsmFingerprint, '-o', out, plain]);
      assert.equal(r.code, 0, r.stderr);
    };
  }

  for (const [name, produce] of producers) {
    test(`${name}: byte-exact`, async () => {
      for (const [label, plain, sha] of inputs) {
        const encrypted = `${plain}.${name.replace(/\W+/g, '-')}.p7m`;
        await produce(plain, encrypted);
        const out = `${encrypted}.out`;
        await decryptWithLibrary(encrypted, out, holder.keyPath, holder.passphrase);
        assert.equal(await sha256File(out), sha, `${name}, ${label}`);
      }
    });
  }

  test('OAEP whose MGF1 hash differs from its hash: named as not supported, not as a wrong key', async () => {
    const [, plain] = inputs[1]!;
    const encrypted = join(dir, 'oaep-mgf1.p7m');
    await mustRun('openssl', ['cms', '-encrypt', '-aes256', '-binary', '-outform', 'DER', '-in', plain, '-out', encrypted,
      '-recip', holder.certPath, '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256',
      '-keyopt', 'rsa_mgf1_md:sha1']); // prettier-ignore
    const r = await runDeaddrop(['decrypt', '--key', holder.plainKeyPath, encrypted, '-o', join(dir, 'oaep-mgf1.out')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot decrypt with .*\(RSAES-OAEP with MGF1 sha1 and hash sha256: not supported\)/);
    assert.doesNotMatch(r.stderr, /wrong key/);
  });

  test('the CLI decrypts gpgsm output to a file and to stdout', async () => {
    const [, plain, sha] = inputs[3]!;
    const encrypted = join(dir, 'cli.p7m');
    await gpgsmEncrypt([])(plain, encrypted);
    const out = join(dir, 'cli.out');
    const args = ['decrypt', '--key', holder.keyPath, '--passphrase-file', holder.passphraseFile];
    const r = await runDeaddrop([...args, encrypted, '-o', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).plaintextBytes, 3_000_001);
    assert.equal(statSync(out).mode & 0o777, 0o600, 'plaintext is for the owner only');
    assert.equal(await sha256File(out), sha);
    // stdin -> stdout, with an unencrypted key
    const small = join(dir, 'cli-small.p7m');
    await openssl('smime', '-encrypt', '-aes256', '-stream')(inputs[2]![1], small);
    const piped = await runDeaddrop(['decrypt', '--key', holder.plainKeyPath], { input: readFileSync(small) });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, 'x'.repeat(16));
  });
});
