import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { makeTestRecipient, missingTools, runDeaddrop, tempDir, type TestRecipient } from '@deaddrop/test';
import { mustRun } from './helpers.js';

// `keys show` knows every key form `decrypt` accepts, and says how a key is protected.
const dir = tempDir();

describe('keys show on key files openssl writes', { skip: missingTools('openssl') }, () => {
  let holder: TestRecipient;
  before(async () => {
    holder = await makeTestRecipient(dir, { cn: 'Show keys' });
  });

  test('an encrypted DER PKCS#8 key is a key (not a certificate), unlocked by its passphrase file', async () => {
    const der = join(dir, 'encrypted.der');
    await mustRun('openssl', ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-outform', 'DER', '-in', holder.plainKeyPath,
      '-passout', `file:${holder.passphraseFile}`, '-out', der]); // prettier-ignore
    const locked = await runDeaddrop(['keys', 'show', der]);
    assert.equal(locked.code, 0, locked.stderr);
    assert.match(locked.stdout, /encrypted\.der: private key/);
    assert.match(locked.stdout, /encrypted: yes \(passphrase-protected PKCS#8\)/);
    const unlocked = await runDeaddrop(['keys', 'show', der, '--passphrase-file', holder.passphraseFile, '--json']);
    assert.equal(unlocked.code, 0, unlocked.stderr);
    assert.deepEqual(
      { ...JSON.parse(unlocked.stdout), file: undefined },
      { kind: 'private-key', file: undefined, keyType: 'rsa', bits: 3072, encrypted: true },
    );
  });

  test('a legacy encrypted PKCS#1 PEM (Proc-Type) is not labelled PKCS#8', async () => {
    const legacy = join(dir, 'legacy.pem');
    await mustRun('openssl', ['rsa', '-traditional', '-aes256', '-in', holder.plainKeyPath,
      '-passout', `file:${holder.passphraseFile}`, '-out', legacy]); // prettier-ignore
    const r = await runDeaddrop(['keys', 'show', legacy]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /encrypted: yes \(passphrase-protected legacy PKCS#1 PEM/);
    assert.doesNotMatch(r.stdout, /PKCS#8/);
  });

  test('a DER certificate is still a certificate', async () => {
    const der = join(dir, 'cert.der');
    await mustRun('openssl', ['x509', '-in', holder.certPath, '-outform', 'DER', '-out', der]);
    const r = await runDeaddrop(['keys', 'show', der, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).kind, 'certificate');
  });
});
