import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import {
  createDeltaStream,
  createPatchStream,
  createSignatureStream,
  duplicitySignatureParams,
  readSignature,
} from '@deaddrop/client/rsync/index';
import { missingTools, tempDir } from '@deaddrop/test';

const MiB = 1 << 20;

/** Seeded pseudo-random bytes fast: AES-128-CTR keystream of a key derived from the seed. */
function writePseudoRandom(fd: number, seed: string, bytes: number): void {
  const cipher = createCipheriv('aes-128-ctr', createHash('md5').update(seed).digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(4 * MiB);
  for (let left = bytes; left > 0; left -= zeros.length)
    writeSync(fd, cipher.update(zeros.subarray(0, Math.min(left, zeros.length))));
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

test(
  '2 MiB rewrite inside a 150 MiB file: both directions with rdiff, byte-exact, small delta',
  { skip: missingTools('rdiff') },
  async () => {
    const dir = tempDir();
    const oldPath = join(dir, 'old');
    const newPath = join(dir, 'new');
    let fd = openSync(oldPath, 'w');
    writePseudoRandom(fd, 'base', 150 * MiB);
    closeSync(fd);
    // new = old with bytes [70 MiB + 123, 72 MiB + 123) rewritten
    fd = openSync(newPath, 'w');
    const start = 70 * MiB + 123;
    const oldFd = openSync(oldPath, 'r');
    const buf = Buffer.allocUnsafe(4 * MiB);
    const { readSync } = await import('node:fs');
    for (let pos = 0; pos < 150 * MiB;) {
      const n = readSync(oldFd, buf, 0, buf.length, pos);
      writeSync(fd, buf, 0, n);
      pos += n;
    }
    closeSync(oldFd);
    const cipher = createCipheriv('aes-128-ctr', createHash('md5').update('edit').digest(), Buffer.alloc(16));
    writeSync(fd, cipher.update(Buffer.alloc(2 * MiB)), 0, 2 * MiB, start);
    closeSync(fd);
    const want = await sha256(newPath);

    // our signature (duplicity params) -> rdiff delta -> our patch
    const params = duplicitySignatureParams(150 * MiB);
    await pipeline(createReadStream(oldPath), createSignatureStream(params), createWriteStream(join(dir, 'sig.ours')));
    execFileSync('rdiff', [
      '-H',
      'md4',
      '-R',
      'rollsum',
      '-b',
      String(params.blockLen),
      '-S',
      '8',
      'signature',
      oldPath,
      join(dir, 'sig.rd'),
    ]);
    assert.equal(await sha256(join(dir, 'sig.ours')), await sha256(join(dir, 'sig.rd')), 'signature equals rdiff');
    execFileSync('rdiff', ['delta', join(dir, 'sig.ours'), newPath, join(dir, 'delta.rd')]);
    await pipeline(
      createReadStream(join(dir, 'delta.rd')),
      createPatchStream(oldPath),
      createWriteStream(join(dir, 'out.ours')),
    );
    assert.equal(await sha256(join(dir, 'out.ours')), want, 'our patch of rdiff delta');

    // rdiff default signature (BLAKE2/RabinKarp) -> our delta -> rdiff patch
    execFileSync('rdiff', ['signature', oldPath, join(dir, 'sig.default')]);
    const sig = await readSignature(createReadStream(join(dir, 'sig.default')));
    await pipeline(createReadStream(newPath), createDeltaStream(sig), createWriteStream(join(dir, 'delta.ours')));
    const deltaSize = statSync(join(dir, 'delta.ours')).size;
    assert.ok(deltaSize < 2 * MiB + 64 * 1024, `delta ${deltaSize} bytes for a 2 MiB change`);
    execFileSync('rdiff', ['patch', oldPath, join(dir, 'delta.ours'), join(dir, 'out.rd')]);
    assert.equal(await sha256(join(dir, 'out.rd')), want, 'rdiff patch of our delta');
  },
);
