import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { makeTestRecipient, missingTools, runDeaddrop, tempDir, type TestRecipient } from '@deaddrop/test';
import { EC_NOT_SUPPORTED } from '@deaddrop/keys';
import { encryptFile, mustRun, writeRandomFile } from './helpers.js';

// Each failure is one line naming the problem, a non-zero exit, and no output file left behind.
const dir = tempDir();
let n = 0;

/** A fresh empty directory for one command's output. */
function outDir(): string {
  const d = join(dir, `out-${++n}`);
  mkdirSync(d);
  return d;
}

function assertFailed(r: { code: number | null; stderr: string }, code: number, pattern: RegExp, out: string): void {
  assert.equal(r.code, code, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line expected: ${r.stderr}`);
  assert.match(lines[0]!, /^deaddrop: /);
  assert.match(lines[0]!, pattern);
  assert.deepEqual(readdirSync(out), [], 'no partial output left in the output directory');
}

describe('clear errors, no partial output', () => {
  let alice: TestRecipient;
  let bob: TestRecipient;
  let message: string;
  before(async () => {
    alice = await makeTestRecipient(dir, { cn: 'Alice errors' });
    bob = await makeTestRecipient(dir, { cn: 'Bob errors' });
    // several 64 KiB segments: a failing decrypt would already have written plaintext
    const plain = join(dir, 'plain.bin');
    await writeRandomFile(plain, 200_000);
    message = join(dir, 'message.p7m');
    await encryptFile(plain, message, [alice.certPath]);
  });

  const decrypt = (who: TestRecipient, input: string, out: string, passphraseFile = who.passphraseFile) =>
    runDeaddrop([
      'decrypt',
      '--key',
      who.keyPath,
      '--passphrase-file',
      passphraseFile,
      input,
      '-o',
      join(out, 'plain'),
    ]);

  test('wrong key: exit 1 naming the key and the recipients', async () => {
    const out = outDir();
    const r = await decrypt(bob, message, out);
    assertFailed(r, 1, /wrong key: .*Bob-errors\.key .*not a recipient.*CN=Alice errors/, out);
  });

  test('wrong passphrase: exit 2 naming the key file', async () => {
    const out = outDir();
    const wrong = join(dir, 'wrong.pass');
    writeFileSync(wrong, 'not the passphrase\n');
    const r = await decrypt(alice, message, out, wrong);
    assertFailed(r, 2, /Alice-errors\.key: wrong passphrase/, out);
  });

  test('encrypted key without a passphrase and no terminal: exit 2', async () => {
    const out = outDir();
    const r = await runDeaddrop(['decrypt', '--key', alice.keyPath, message, '-o', join(out, 'plain')], {
      detached: true, // no controlling terminal to prompt on
    });
    assertFailed(r, 2, /passphrase/, out);
  });

  test('truncated input, wherever it is cut: exit 1 "truncated"', async () => {
    const whole = readFileSync(message);
    for (const cut of [1, 40, 300, 70_000, whole.length - 100, whole.length - 10, whole.length - 1]) {
      const input = join(dir, `cut-${cut}.p7m`);
      writeFileSync(input, whole.subarray(0, cut));
      const out = outDir();
      assertFailed(await decrypt(alice, input, out), 1, /cut-\d+\.p7m: truncated: input ends inside/, out);
    }
  });

  test('corrupt padding: exit 1 "bad padding"', async () => {
    const bytes = Buffer.from(readFileSync(message));
    // 200000 bytes pad to a whole block of 16s; the byte 16 before the last ciphertext byte
    // (10 EOC bytes end the message) XORs the last plaintext byte: 0x10 ^ 0xff is no padding
    bytes[bytes.length - 10 - 17]! ^= 0xff;
    const input = join(dir, 'corrupt.p7m');
    writeFileSync(input, bytes);
    const out = outDir();
    assertFailed(await decrypt(alice, input, out), 1, /corrupt\.p7m: decryption failed: bad padding/, out);
  });

  test('not a CMS message: exit 1', async () => {
    const out = outDir();
    assertFailed(await decrypt(alice, alice.certPath, out), 1, /not a DER\/BER CMS message/, out);
  });

  test('not a certificate: encrypt exits 2 naming the file', async () => {
    const out = outDir();
    const r = await runDeaddrop(['encrypt', '--to', alice.keyPath, message, '-o', join(out, 'x.p7m')]);
    assertFailed(r, 2, /Alice-errors\.key: not a certificate/, out);
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'hello\n');
    const r2 = await runDeaddrop(['encrypt', '--to', garbage, message, '-o', join(out, 'x.p7m')]);
    assertFailed(r2, 2, /garbage\.pem: not a certificate/, out);
  });

  test('EC certificate: encrypt exits 2 explaining why', { skip: missingTools('openssl') }, async () => {
    const cert = join(dir, 'ec.pem');
    await mustRun('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'ec.key'), '-out', cert, '-days', '10', '-subj', '/CN=ec']); // prettier-ignore
    const out = outDir();
    const r = await runDeaddrop(['encrypt', '--to', alice.certPath, '--to', cert, message, '-o', join(out, 'x.p7m')]);
    assertFailed(r, 2, new RegExp(`ec\\.pem: ${EC_NOT_SUPPORTED}`), out);
  });

  test('a weak RSA certificate (1024 bits): encrypt exits 2 naming it', { skip: missingTools('openssl') }, async () => {
    const cert = join(dir, 'weak.pem');
    await mustRun('openssl', ['req', '-x509', '-newkey', 'rsa:1024', '-nodes',
      '-keyout', join(dir, 'weak.key'), '-out', cert, '-days', '10', '-subj', '/CN=weak']); // prettier-ignore
    const out = outDir();
    const r = await runDeaddrop(['encrypt', '--to', cert, message, '-o', join(out, 'x.p7m')]);
    assertFailed(r, 2, /weak\.pem: RSA-1024 is too weak for a recipient \(at least 2048 bits\)/, out);
  });

  test('missing input file: exit 2 naming it', async () => {
    const out = outDir();
    const r = await decrypt(alice, join(dir, 'nope.p7m'), out);
    assertFailed(r, 2, /nope\.p7m: cannot read/, out);
  });
});

describe('crafted BER: refused early, in little memory', () => {
  let key: TestRecipient;
  before(async () => {
    key = await makeTestRecipient(dir, { cn: 'Crafted' });
  });
  const prefix = Buffer.from(
    '3080' + '06092a864886f70d010703' + 'a080' + '3080' + '020100', // ContentInfo, envelopedData, [0], EnvelopedData, version
    'hex',
  );
  const cases: [string, Buffer, RegExp][] = [
    // each level of indefinite nesting cost a recursive call: 100 MB of these took 4.4 GB and crashed
    ['recipientInfos nested 100000 deep', Buffer.concat([prefix, Buffer.from('3180', 'hex'), Buffer.alloc(200_000, Buffer.from('3080', 'hex'))]), /recipientInfos: elements nested more than 32 deep/],
    // a high tag number padded with 0x80 octets never grew, and every octet was kept
    ['a tag number padded with 0x80', Buffer.concat([Buffer.from('3f', 'hex'), Buffer.alloc(100_000, 0x80)]), /malformed or too large tag number at byte 0/],
  ]; // prettier-ignore
  for (const [name, bytes, pattern] of cases)
    test(name, async () => {
      const input = join(dir, `crafted-${++n}.p7m`);
      writeFileSync(input, bytes);
      const out = outDir();
      const r = await runDeaddrop(['decrypt', '--key', key.plainKeyPath, input, '-o', join(out, 'x')]);
      assertFailed(r, 1, pattern, out);
    });
  test('an encrypted content nested 1000 deep in constructed OCTET STRINGs', async () => {
    const { ByteReader } = await import('../src/cms/byte-reader.js');
    const { octetStringContents, readHeader } = await import('../src/cms/ber-reader.js');
    const nested = Buffer.concat([Buffer.alloc(2000, Buffer.from('2480', 'hex')), Buffer.from('0401ff', 'hex')]);
    const r = new ByteReader((async function* () { yield nested; })()); // prettier-ignore
    const header = await readHeader(r, 'encryptedContent');
    await assert.rejects(async () => {
      for await (const piece of octetStringContents(r, header, 'encryptedContent')) void piece;
    }, /encryptedContent: elements nested more than 32 deep/);
  });
});
