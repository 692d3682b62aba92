import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { decryptFile, EC_NOT_SUPPORTED, loadPrivateKey, loadRecipients, type PrivateKey } from '@deaddrop/keys';
import { makeTestRecipient, missingTools, tempDir, type TestRecipient } from '@deaddrop/test';
import { encryptFile, mustRun } from './helpers.js';

// Key and certificate files in every form openssl writes them, and decryptFile's all-or-nothing output.
const dir = tempDir();

describe('key and certificate files', { skip: missingTools('openssl') }, () => {
  let holder: TestRecipient;
  let message: string;
  before(async () => {
    holder = await makeTestRecipient(dir, { cn: 'Key files' });
    const plain = join(dir, 'plain.txt');
    writeFileSync(plain, 'any key form decrypts this\n');
    message = join(dir, 'message.p7m');
    await encryptFile(plain, message, [holder.certPath]);
  });

  async function decryptsWith(key: PrivateKey): Promise<void> {
    const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
    await decryptFile(message, out, key);
    assert.equal(readFileSync(out, 'utf8'), 'any key form decrypts this\n');
  }

  const pw = 'file passphrase';
  const forms: [string, string[], string | undefined][] = [
    ['encrypted PKCS#8 PEM (ours)', [], undefined],
    ['unencrypted PKCS#8 PEM', ['pkey'], undefined],
    ['unencrypted PKCS#1 PEM', ['rsa', '-traditional'], undefined],
    ['legacy encrypted PKCS#1 PEM (Proc-Type)', ['rsa', '-traditional', '-aes256', '-passout', `pass:${pw}`], pw],
    ['unencrypted PKCS#8 DER', ['pkey', '-outform', 'DER'], undefined],
    ['unencrypted PKCS#1 DER', ['rsa', '-traditional', '-outform', 'DER'], undefined],
    [
      'encrypted PKCS#8 DER',
      ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-outform', 'DER', '-passout', `pass:${pw}`],
      pw,
    ],
  ];
  for (const [name, args, passphrase] of forms) {
    test(`loads ${name}`, async () => {
      let path = holder.keyPath;
      let pass: string | undefined = holder.passphrase;
      if (args.length) {
        path = join(dir, name.replace(/\W+/g, '-'));
        await mustRun('openssl', [...args, '-in', holder.plainKeyPath, '-out', path]);
        pass = passphrase;
      }
      const key = await loadPrivateKey(path, pass);
      assert.equal(key.bits, 3072);
      assert.equal(key.encrypted, pass !== undefined);
      await decryptsWith(key);
    });
  }

  test('an encrypted key without a passphrase, or with a wrong one, is a clear error', async () => {
    await assert.rejects(
      loadPrivateKey(holder.keyPath),
      /Key-files\.key: the private key is encrypted; give its passphrase/,
    );
    await assert.rejects(
      loadPrivateKey(holder.keyPath, 'nope'),
      /Key-files\.key: wrong passphrase for the private key/,
    );
    await assert.rejects(loadPrivateKey(holder.certPath), /Key-files\.pem: not a private key/);
  });

  test('certificates: PEM, DER, a PEM bundle of two; EC and non-certificates refused', async () => {
    const der = join(dir, 'cert.der');
    await mustRun('openssl', ['x509', '-in', holder.certPath, '-outform', 'DER', '-out', der]);
    const other = await makeTestRecipient(dir, { cn: 'Key files two' });
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, readFileSync(holder.certPath, 'utf8') + readFileSync(other.certPath, 'utf8'));
    const loaded = await loadRecipients([der, bundle]);
    assert.deepEqual(
      loaded.map((r) => [r.source, r.certificate.subject, r.bits]),
      [
        [der, 'CN=Key files', 3072],
        [bundle, 'CN=Key files', 3072],
        [bundle, 'CN=Key files two', 3072],
      ],
    );
    // issuer and serial are the certificate's own bytes
    assert.equal(loaded[0]!.serialDer.subarray(2).toString('hex').toUpperCase(), loaded[0]!.certificate.serialNumber);
    const ec = join(dir, 'ec.pem');
    await mustRun('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'ec.key'), '-out', ec, '-days', '1', '-subj', '/CN=ec']); // prettier-ignore
    await assert.rejects(loadRecipients([ec]), (err: Error) => err.message === `${ec}: ${EC_NOT_SUPPORTED}`);
    await assert.rejects(loadRecipients([holder.keyPath]), /not a certificate \(PEM block is "ENCRYPTED PRIVATE KEY"/);
    await assert.rejects(loadRecipients([join(dir, 'missing.pem')]), /missing\.pem: cannot read certificate/);
  });

  test('decryptFile leaves nothing behind on failure', async () => {
    const outDir = join(dir, 'failing');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(outDir);
    const truncated = join(dir, 'truncated.p7m');
    const whole = readFileSync(message);
    writeFileSync(truncated, whole.subarray(0, whole.length - 5));
    const key = await loadPrivateKey(holder.keyPath, holder.passphrase);
    await assert.rejects(decryptFile(truncated, join(outDir, 'out'), key), /truncated/);
    assert.deepEqual(readdirSync(outDir), []);
  });
});

describe('wrong keys', () => {
  test('a key of the same size that is not a recipient is "wrong key", whatever the numbers', async () => {
    const { createDecryptStream, createEncryptStream, loadPrivateKey, loadRecipients } = await import('@deaddrop/keys');
    const { Readable, Writable } = await import('node:stream');
    const { pipeline } = await import('node:stream/promises');
    // encrypt to the larger modulus and decrypt with the smaller: then RSA of the ciphertext
    // often exceeds the modulus, the case that must not escape as an OpenSSL error
    const holders = [await makeTestRecipient(dir, { cn: 'Wrong A' }), await makeTestRecipient(dir, { cn: 'Wrong B' })];
    const certs = await loadRecipients(holders.map((h) => h.certPath));
    const modulus = (i: number) =>
      BigInt(
        '0x' + Buffer.from(certs[i]!.certificate.publicKey.export({ format: 'jwk' }).n!, 'base64url').toString('hex'),
      );
    const big = modulus(0) > modulus(1) ? 0 : 1;
    const certA = certs[big];
    const b = holders[1 - big]!;
    const keyB = await loadPrivateKey(b.keyPath, b.passphrase);
    for (let i = 0; i < 40; i++) {
      const chunks: Buffer[] = [];
      await pipeline(
        Readable.from([Buffer.from('secret')]),
        createEncryptStream([certA!]),
        new Writable({
          write(c: Buffer, _e, cb) {
            chunks.push(c);
            cb();
          },
        }),
      );
      await assert.rejects(
        pipeline(
          Readable.from([Buffer.concat(chunks)]),
          createDecryptStream(keyB),
          new Writable({ write: (_c, _e, cb) => cb() }),
        ),
        /wrong key: .*Wrong-[AB]\.key \(RSA-3072\) is not a recipient of this message \(recipients: CN=Wrong [AB] serial/,
      );
    }
  });
});

test('every wrong passphrase reads as one, also when the garbage it decrypts to has valid padding', async () => {
  const holder = await makeTestRecipient(join(dir, 'passphrases'), { cn: 'Passphrases' });
  // about one wrong passphrase in 256 passes the padding check and fails in the DER decoder:
  // 600 tries meet that case nine times in ten
  for (let i = 0; i < 600; i++)
    await assert.rejects(loadPrivateKey(holder.keyPath, `wrong ${i}`), (err: Error) => {
      assert.match(err.message, /Passphrases\.key: wrong passphrase for the private key/, `try ${i}`);
      return true;
    });
});
