/**
 * Where `deaddrop decrypt|encrypt -o` may write: an output that cannot become a file (a
 * directory, a missing directory) and an input that is a directory are refused before any
 * work; an existing output only with --force; and a signal that stops a decrypt leaves no
 * hidden temp file of plaintext behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deaddropArgv, makeTestRecipient, missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { encryptFile, writeRandomFile } from './helpers.js';

const skip = missingTools('openssl');

async function setup() {
  const dir = tempDir('deaddrop-outpaths-');
  const who = await makeTestRecipient(dir, { cn: 'Output paths' });
  const plain = join(dir, 'plain.bin');
  await writeRandomFile(plain, 300_000);
  const message = join(dir, 'message.p7m');
  await encryptFile(plain, message, [who.certPath]);
  return { dir, who, plain, message };
}

test('outputs and inputs that cannot be used are refused by name, before any work', { skip }, async () => {
  const { dir, who, message } = await setup();
  mkdirSync(join(dir, 'outdir'));
  const decrypt = (...args: string[]) => runDeaddrop(['decrypt', '--key', who.plainKeyPath, ...args]);

  let r = await decrypt(message, '-o', join(dir, 'outdir'));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /outdir: is a directory; give a file name/);
  assert.deepEqual(readdirSync(join(dir, 'outdir')), []);

  r = await decrypt(message, '-o', join(dir, 'missing', 'x'));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /missing: no such directory \(for .*missing\/x\)/);

  r = await runDeaddrop(['encrypt', '--to', who.certPath, join(dir, 'outdir'), '-o', join(dir, 'x.p7m')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /outdir: is a directory, not a file to read/);

  writeFileSync(join(dir, 'afile'), 'x');
  r = await runDeaddrop(['keys', 'generate', '--cn', 't', '--out', join(dir, 'afile'), '--insecure-no-passphrase']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--out .*afile: exists and is not a directory/);
});

test('an existing output is replaced only with --force', { skip }, async () => {
  const { dir, who, plain, message } = await setup();
  const out = join(dir, 'existing');
  writeFileSync(out, 'keep me\n');
  const r = await runDeaddrop(['decrypt', '--key', who.plainKeyPath, message, '-o', out]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /existing: exists; refusing to overwrite it \(--force to replace it\)/);
  assert.equal(readFileSync(out, 'utf8'), 'keep me\n');
  const forced = await runDeaddrop(['decrypt', '--key', who.plainKeyPath, message, '-o', out, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual(readFileSync(out), readFileSync(plain));
  const enc = await runDeaddrop(['encrypt', '--to', who.certPath, plain, '-o', out]);
  assert.equal(enc.code, 2, enc.stderr);
});

test('Ctrl-C during decrypt -o leaves neither the output nor its temp file', { skip }, async () => {
  const { dir, who, message } = await setup();
  const outDir = join(dir, 'o');
  mkdirSync(outDir);
  const [cmd, ...pre] = deaddropArgv();
  // the input comes through a pipe that is held open half way, so the decrypt is surely running
  const child = spawn(cmd!, [...pre, 'decrypt', '--key', who.plainKeyPath, '-o', join(outDir, 'plain')], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const cms = readFileSync(message);
  child.stdin.write(cms.subarray(0, cms.length / 2));
  for (let i = 0; i < 300 && !readdirSync(outDir).some((n) => n.endsWith('.partial')); i++)
    await new Promise((r) => setTimeout(r, 50));
  assert.ok(
    readdirSync(outDir).some((n) => n.endsWith('.partial')),
    'the temp file is being written',
  );
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (code, signal) => resolve([code, signal])),
  );
  child.kill('SIGINT');
  const [code, signal] = await exited;
  child.stdin.destroy();
  assert.equal(signal, 'SIGINT', `stopped by the signal (code ${code}): ${stderr}`);
  assert.deepEqual(readdirSync(outDir), [], 'no plaintext left behind');
  assert.equal(existsSync(join(outDir, 'plain')), false);
});
