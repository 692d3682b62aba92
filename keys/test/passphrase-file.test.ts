import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { missingTools, runCommand, runDeaddrop, tempDir } from '@deaddrop/test';

// A passphrase file is bytes, as `openssl -passin file:` reads it: the stock-tools steps of
// docs/DISASTER-RECOVERY.md must open a key made with any file deaddrop accepts.
const dir = tempDir();

describe('passphrase files are bytes, as openssl reads them', { skip: missingTools('openssl') }, () => {
  // not UTF-8 (what `openssl rand 32 > passphrase` can give); `other` differs only in the
  // invalid bytes, which a UTF-8 decoder would turn into the same U+FFFD
  const binary = join(dir, 'binary.pass');
  const other = join(dir, 'other.pass');
  const out = join(dir, 'keys');
  const key = join(out, 'recipient.key');
  before(async () => {
    writeFileSync(binary, Buffer.from('p\xe4ss\xffword\n', 'latin1'));
    writeFileSync(other, Buffer.from('p\xfcss\xfeword\n', 'latin1'));
    const r = await runDeaddrop(['keys', 'generate', '--cn', 'Bytes', '--out', out, '--passphrase-file', binary]);
    assert.equal(r.code, 0, r.stderr);
  });

  test('a key made with a binary passphrase file opens with openssl -passin file: and deaddrop', async () => {
    const o = await runCommand('openssl', ['pkey', '-in', key, '-noout', '-passin', `file:${binary}`]);
    assert.equal(o.code, 0, o.stderr);
    const d = await runDeaddrop(['keys', 'show', key, '--passphrase-file', binary, '--json']);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(JSON.parse(d.stdout).bits, 3072);
  });

  test('a file with other invalid bytes does not unlock it', async () => {
    const d = await runDeaddrop(['keys', 'show', key, '--passphrase-file', other]);
    assert.equal(d.code, 2, d.stderr);
    assert.match(d.stderr, /recipient\.key: wrong passphrase/);
  });

  test('a NUL byte, or a line longer than the 1023 bytes openssl reads, is refused naming the file', async () => {
    const nul = join(dir, 'nul.pass');
    writeFileSync(nul, Buffer.from('abc\0def\n', 'latin1'));
    const long = join(dir, 'long.pass');
    writeFileSync(long, 'a'.repeat(1024) + '\n');
    const target = join(dir, 'refused');
    for (const [file, why] of [
      [nul, /nul\.pass: .*NUL/],
      [long, /long\.pass: .*1023 bytes/],
    ] as const) {
      const r = await runDeaddrop(['keys', 'generate', '--cn', 'X', '--out', target, '--passphrase-file', file]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, why);
    }
    assert.equal(existsSync(target), false, 'nothing written');
    // 1023 bytes is the longest openssl reads whole: accepted, and openssl opens the key
    const longest = join(dir, 'longest.pass');
    writeFileSync(longest, 'b'.repeat(1023) + '\n');
    const ok = join(dir, 'longest');
    const r = await runDeaddrop(['keys', 'generate', '--cn', 'X', '--out', ok, '--passphrase-file', longest]);
    assert.equal(r.code, 0, r.stderr);
    const o = await runCommand('openssl', [
      'pkey',
      '-in',
      join(ok, 'recipient.key'),
      '-noout',
      '-passin',
      `file:${longest}`,
    ]);
    assert.equal(o.code, 0, o.stderr);
  });
});
