import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { deaddropArgv, makeTestRecipient, missingTools, runCommand, tempDir } from '@deaddrop/test';
import { encryptFile } from './helpers.js';

// Passphrases typed on a terminal: util-linux `script` gives the CLI a pseudo-terminal, and
// each answer is sent when its prompt has appeared (no timing).
const dir = tempDir();

function onTerminal(args: string[], answers: string[]): Promise<{ code: number | null; output: string }> {
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const cmd = [...deaddropArgv(), ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let answered = 0;
    const onData = (d: Buffer) => {
      output += d.toString();
      const prompts = output.match(/passphrase[^:\n]*: /gi)?.length ?? 0;
      while (answered < prompts && answered < answers.length) child.stdin.write(answers[answered++] + '\r');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      child.stdin.destroy();
      resolve({ code, output });
    });
  });
}

describe('passphrases from the terminal', { skip: missingTools('script', 'openssl') }, () => {
  test('keys generate asks twice, without echo, and encrypts the key with it', async () => {
    const out = join(dir, 'typed');
    const r = await onTerminal(['keys', 'generate', '--cn', 'Typed', '--out', out], ['typed secret', 'typed secret']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /New passphrase for the recipient key: /);
    assert.match(r.output, /Repeat the passphrase: /);
    assert.doesNotMatch(r.output, /typed secret/, 'no echo');
    const key = join(out, 'recipient.key');
    assert.equal((await runCommand('openssl', ['pkey', '-in', key, '-noout', '-passin', 'pass:typed secret'])).code, 0);
  });

  test('keys generate refuses two different answers and an empty one', async () => {
    const out = join(dir, 'refused');
    const differ = await onTerminal(['keys', 'generate', '--cn', 'X', '--out', out], ['one', 'two']);
    assert.equal(differ.code, 2, differ.output);
    assert.match(differ.output, /the two passphrases differ/);
    const empty = await onTerminal(['keys', 'generate', '--cn', 'X', '--out', out], ['']);
    assert.equal(empty.code, 2, empty.output);
    assert.match(empty.output, /an empty passphrase is refused/);
    assert.equal(existsSync(out), false);
  });

  test('decrypt asks for the key passphrase when no file is given', async () => {
    const holder = await makeTestRecipient(dir, { cn: 'Prompted' });
    const plain = join(dir, 'plain.txt');
    writeFileSync(plain, 'asked on the terminal\n');
    const message = join(dir, 'plain.p7m');
    await encryptFile(plain, message, [holder.certPath]);
    const out = join(dir, 'plain.out');
    const r = await onTerminal(['decrypt', '--key', holder.keyPath, message, '-o', out], [holder.passphrase]);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Passphrase for .*Prompted\.key: /);
    assert.equal(readFileSync(out, 'utf8'), 'asked on the terminal\n');
  });

  test('Ctrl-U clears the line, Ctrl-W deletes a word, arrow keys and control characters are no part of it', async () => {
    const holder = await makeTestRecipient(dir, { cn: 'Line editing' });
    const plain = join(dir, 'edited.txt');
    writeFileSync(plain, 'typed with corrections\n');
    const message = join(dir, 'edited.p7m');
    await encryptFile(plain, message, [holder.certPath]);
    const [first, ...rest] = holder.passphrase.split(' ');
    const typed = [
      'typo\x15', // Ctrl-U: start again
      `${first} wrong\x17`, // Ctrl-W: "wrong" goes, the space before it stays
      `\x1b[D${rest.join(' ')}\x1b[C\x1bOA\x01\t`, // left, right, keypad up, Ctrl-A, Tab
    ].join('');
    const out = join(dir, 'edited.out');
    const r = await onTerminal(['decrypt', '--key', holder.keyPath, message, '-o', out], [typed]);
    assert.equal(r.code, 0, r.output);
    assert.equal(readFileSync(out, 'utf8'), 'typed with corrections\n');
  });
});
