// Shared by the rsync tests: run our streams in-process and rdiff as the oracle.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  createDeltaStream,
  createPatchStream,
  createSignatureStream,
  readSignature,
  type SignatureParams,
} from '@deaddrop/client/rsync/index';

/** A seeded PRNG (mulberry32) so failures reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

/**
 * Old data with repeats (zero blocks, a copied stretch) and a mostly short last block, and new
 * data edited from it: 1-4 stretches replaced or inserted, some longer than 32 KiB.
 */
export function editedData(rand: () => number, blockLen: number): { oldData: Buffer; newData: Buffer } {
  const head = randomBytes(rand, 30 * blockLen + Math.floor(rand() * blockLen));
  const oldData = Buffer.concat([head, Buffer.alloc(5 * blockLen), head.subarray(0, 7 * blockLen), randomBytes(rand, 999)]); // prettier-ignore
  let newData = Buffer.from(oldData);
  for (let e = 1 + Math.floor(rand() * 4); e > 0; e--) {
    const at = Math.floor(rand() * newData.length);
    // up to 40 KiB of new bytes: rolls longer than the 32 KiB between literal flushes
    const len = Math.floor(rand() * (rand() < 0.3 ? 40_000 : 3 * blockLen));
    const insert = randomBytes(rand, len);
    newData =
      rand() < 0.5
        ? Buffer.concat([newData.subarray(0, at), insert, newData.subarray(at + len)])
        : Buffer.concat([newData.subarray(0, at), insert, newData.subarray(at)]);
  }
  return { oldData, newData };
}

/** Feeds data in uneven chunks (exercises block/window boundaries across writes). */
function chunked(data: Uint8Array, size = 7919): Readable {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}

async function collect(src: Readable, stage: Transform): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(src, stage, async (s: AsyncIterable<Buffer | string>) => {
    for await (const c of s) out.push(Buffer.from(c));
  });
  return Buffer.concat(out);
}

export const ourSignature = (data: Uint8Array, p: SignatureParams, chunk?: number) =>
  collect(chunked(data, chunk), createSignatureStream(p));
export const ourDelta = async (sig: Uint8Array, data: Uint8Array, chunk?: number) =>
  collect(chunked(data, chunk), createDeltaStream(await readSignature(sig)));
export const ourPatch = (basisPath: string, delta: Uint8Array) => collect(chunked(delta), createPatchStream(basisPath));

export const MAGICS: [string, string][] = [
  ['md4', 'rollsum'],
  ['md4', 'rabinkarp'],
  ['blake2', 'rollsum'],
  ['blake2', 'rabinkarp'],
];

/** Runs rdiff with files in dir; returns the named output file's bytes. */
export function rdiff(dir: string, args: string[], inputs: Record<string, Uint8Array>, output: string): Buffer {
  for (const [name, data] of Object.entries(inputs)) writeFileSync(join(dir, name), data);
  execFileSync('rdiff', ['--force', ...args.map((a) => (a.startsWith('@') ? join(dir, a.slice(1)) : a))], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return readFileSync(join(dir, output));
}
