import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { deaddropArgv, makeGpgsmHome, missingTools, runCommand, runDeaddrop, tempDir } from '@deaddrop/test';
import { decryptWithLibrary, mustRun } from './helpers.js';

// `deaddrop keys generate` writes a key pair that openssl and gpgsm use as they are, protects
// the private key, and never overwrites anything.
const skip = missingTools('openssl', 'gpgsm', 'gpgconf');
const dir = tempDir();
const passphraseFile = join(dir, 'pass');
writeFileSync(passphraseFile, 'correct horse battery staple\n', { mode: 0o600 });

describe('deaddrop keys generate', { skip }, () => {
  const out = join(dir, 'keys');
  const cert = join(out, 'recipient.pem');
  const key = join(out, 'recipient.key');
  let generated: { stdout: string; code: number | null; stderr: string };
  before(async () => {
    generated = await runDeaddrop(['keys', 'generate', '--cn', 'Backup Recipient', '--out', out,
      '--passphrase-file', passphraseFile, '--json']); // prettier-ignore
  });

  test('writes recipient.pem (0644) and an encrypted recipient.key (0600), prints both fingerprints', async () => {
    assert.equal(generated.code, 0, generated.stderr);
    assert.equal(statSync(key).mode & 0o777, 0o600);
    assert.equal(statSync(cert).mode & 0o777, 0o644);
    assert.match(readFileSync(key, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const result = JSON.parse(generated.stdout);
    const sha256 = (await runCommand('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'])).stdout;
    const sha1 = (await runCommand('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha1'])).stdout;
    assert.equal(result.fingerprints.sha256, sha256.trim().split('=')[1]);
    assert.equal(result.fingerprints.sha1, sha1.trim().split('=')[1]);
    // the key opens with the passphrase and not without
    await mustRun('openssl', ['pkey', '-in', key, '-noout', '-passin', `file:${passphraseFile}`]);
    assert.notEqual((await runCommand('openssl', ['pkey', '-in', key, '-noout', '-passin', 'pass:wrong'])).code, 0);
  });

  test('the certificate has what openssl and gpgsm need', async () => {
    const text = (await runCommand('openssl', ['x509', '-in', cert, '-noout', '-text'])).stdout;
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.match(text, /Public-Key: \(3072 bit\)/);
    assert.match(text, /X509v3 Key Usage: critical\s+Key Encipherment, Data Encipherment/);
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /X509v3 Subject Key Identifier/);
    assert.match(text, /Subject: CN = Backup Recipient/);
    const serial = (await runCommand('openssl', ['x509', '-in', cert, '-noout', '-serial'])).stdout;
    assert.match(serial, /^serial=01[0-9A-F]{30}$/m, 'positive 16-byte serial');
    const notAfter = new Date(
      (await runCommand('openssl', ['x509', '-in', cert, '-noout', '-enddate'])).stdout.split('=')[1]!,
    );
    assert.ok(notAfter.getTime() - Date.now() > 29 * 365 * 86400_000, `long validity: ${notAfter.toISOString()}`);
  });

  test('openssl smime and gpgsm encrypt to the certificate; the key decrypts', async () => {
    const plain = join(dir, 'hello.txt');
    writeFileSync(plain, 'hello recipient\n');
    const viaOpenssl = join(dir, 'hello.openssl.p7m');
    await mustRun('openssl', [
      'smime',
      '-encrypt',
      '-aes256',
      '-binary',
      '-outform',
      'DER',
      '-in',
      plain,
      '-out',
      viaOpenssl,
      cert,
    ]);
    const passphrase = readFileSync(passphraseFile, 'utf8').trim();
    const outOpenssl = join(dir, 'hello.openssl.out');
    await decryptWithLibrary(viaOpenssl, outOpenssl, key, passphrase);
    assert.equal(readFileSync(outOpenssl, 'utf8'), 'hello recipient\n');
    // gpgsm: import the pair, encrypt to it (needs keyUsage and the relaxed trust), decrypt with gpgsm
    const gpgsm = makeGpgsmHome(dir, cert, key, passphrase);
    const viaGpgsm = join(dir, 'hello.gpgsm.p7m');
    const fpr = JSON.parse(generated.stdout).fingerprints.sha1.replace(/:/g, '');
    const enc = await gpgsm(['--encrypt', '-r', fpr, '-o', viaGpgsm, plain]);
    assert.equal(enc.code, 0, enc.stderr);
    assert.doesNotMatch(enc.stderr, /should not have been used for encryption/);
    const outGpgsm = join(dir, 'hello.gpgsm.out');
    const dec = await gpgsm(['--decrypt', '-o', outGpgsm, viaGpgsm]);
    assert.equal(dec.code, 0, dec.stderr);
    assert.equal(readFileSync(outGpgsm, 'utf8'), 'hello recipient\n');
  });

  test('never overwrites: exit 2 naming the existing file, files unchanged', async () => {
    const before = [readFileSync(cert), readFileSync(key)];
    const r = await runDeaddrop([
      'keys',
      'generate',
      '--cn',
      'Again',
      '--out',
      out,
      '--passphrase-file',
      passphraseFile,
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /recipient\.(key|pem) already exists; refusing to overwrite it/);
    assert.deepEqual([readFileSync(cert), readFileSync(key)], before);
    // one existing file is enough to refuse, and the other isn't created
    const half = join(dir, 'half');
    const r1 = await runDeaddrop(['keys', 'generate', '--cn', 'H', '--out', half, '--insecure-no-passphrase']);
    assert.equal(r1.code, 0, r1.stderr);
    const { unlinkSync } = await import('node:fs');
    unlinkSync(join(half, 'recipient.key'));
    const r2 = await runDeaddrop(['keys', 'generate', '--cn', 'H', '--out', half, '--insecure-no-passphrase']);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /half\/recipient\.pem already exists/);
    assert.deepEqual(readdirSync(half), ['recipient.pem']);
  });

  test('refuses an empty passphrase, a CRLF passphrase file, and a missing one without a terminal', async () => {
    const empty = join(dir, 'empty.pass');
    writeFileSync(empty, '\n');
    const target = join(dir, 'refused');
    const r = await runDeaddrop(['keys', 'generate', '--cn', 'X', '--out', target, '--passphrase-file', empty]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /empty\.pass: the passphrase file is empty/);
    // openssl -passin file: would keep the CR of a CRLF file: the key could not be opened by it
    const crlf = join(dir, 'crlf.pass');
    writeFileSync(crlf, 'Secret pass 1\r\n');
    const r1 = await runDeaddrop(['keys', 'generate', '--cn', 'X', '--out', target, '--passphrase-file', crlf]);
    assert.equal(r1.code, 2);
    assert.match(r1.stderr, /crlf\.pass: the passphrase line ends with a carriage return/);
    const r2 = await runDeaddrop(['keys', 'generate', '--cn', 'X', '--out', target], { detached: true });
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /no terminal to ask for a passphrase/);
    assert.equal(existsSync(target), false, 'nothing written');
  });

  test('--insecure-no-passphrase writes an unencrypted PKCS#8 key; --bits 4096', async () => {
    const target = join(dir, 'plain');
    const r = await runDeaddrop([
      'keys',
      'generate',
      '--cn',
      'Plain',
      '--out',
      target,
      '--insecure-no-passphrase',
      '--bits',
      '4096',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /UNENCRYPTED/);
    const keyFile = join(target, 'recipient.key');
    assert.match(readFileSync(keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const text = (await runCommand('openssl', ['x509', '-in', join(target, 'recipient.pem'), '-noout', '-text']))
      .stdout;
    assert.match(text, /Public-Key: \(4096 bit\)/);
  });

  test('keys show describes the certificate and the key', async () => {
    const c = await runDeaddrop(['keys', 'show', cert, '--json']);
    assert.equal(c.code, 0, c.stderr);
    const info = JSON.parse(c.stdout);
    assert.equal(info.subject, 'CN=Backup Recipient');
    assert.equal(info.keyType, 'rsa');
    assert.equal(info.bits, 3072);
    assert.deepEqual(info.keyUsage, ['keyEncipherment', 'dataEncipherment']);
    assert.equal(info.ca, false);
    assert.equal(info.fingerprints.sha256, JSON.parse(generated.stdout).fingerprints.sha256);
    const k = await runDeaddrop(['keys', 'show', key]);
    assert.equal(k.code, 0, k.stderr);
    assert.match(k.stdout, /encrypted: yes/);
    const k2 = await runDeaddrop(['keys', 'show', key, '--passphrase-file', passphraseFile, '--json']);
    assert.equal(JSON.parse(k2.stdout).bits, 3072);
    const bad = await runDeaddrop(['keys', 'show', passphraseFile]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /pass: neither a certificate nor a private key/);
  });
});

test(
  'keys generate syncs the key directory and its parent, so a crash keeps the key files',
  { skip: missingTools('strace') },
  async () => {
    const out = join(tempDir(), 'new-keys');
    const trace = join(tempDir(), 'trace');
    const [node, ...pre] = deaddropArgv();
    const r = await runCommand('strace', ['-f', '-qq', '-e', 'trace=openat,fsync', '-o', trace, node!, ...pre,
    'keys', 'generate', '--cn', 'S', '--out', out, '--insecure-no-passphrase']); // prettier-ignore
    assert.equal(r.code, 0, r.stderr);
    // Threads share fds: the last openat that returned FD says what a later fsync(FD) = 0
    // syncs. Another thread's call may split an openat into "<unfinished ...>" and
    // "<... openat resumed> = FD".
    const syncedDirs = new Set<string>();
    const dirOfFd = new Map<string, string | undefined>();
    const opening = new Map<string, string | undefined>();
    for (const line of readFileSync(trace, 'utf8').split('\n')) {
      const [, pid, call] = /^(\d+)\s+(.*)$/.exec(line) ?? [];
      if (!pid || !call) continue;
      const open = /^openat\(AT_FDCWD, "([^"]+)", ([^)<]*)(?:\) += (-?\d+)| <unfinished)/.exec(call);
      const resumed = /^<\.\.\. openat resumed>.*= (-?\d+)/.exec(call);
      const sync = /^fsync\((\d+)\)\s+= 0/.exec(call);
      if (open) {
        const dir = open[2]!.includes('O_DIRECTORY') ? open[1] : undefined;
        if (open[3] === undefined) opening.set(pid, dir);
        else dirOfFd.set(open[3], dir);
      } else if (resumed) {
        dirOfFd.set(resumed[1]!, opening.get(pid));
        opening.delete(pid);
      } else if (sync) {
        const dir = dirOfFd.get(sync[1]!);
        if (dir) syncedDirs.add(dir);
      }
    }
    assert.ok(syncedDirs.has(out), `no fsync of ${out}: ${[...syncedDirs].join(', ')}`);
    assert.ok(syncedDirs.has(dirname(out)), `no fsync of ${dirname(out)}`);
  },
);
