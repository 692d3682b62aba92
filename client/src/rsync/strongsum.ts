import { createRequire } from 'node:module';
import { strongKindOf } from './magic.js';
import { md4 } from './md4.js';
import { md4Blocks } from './md4-lanes.js';
import { rollsumOf } from './weaksum.js';

/** Computes the full strong sum (MD4 or BLAKE2b-256) of one block; callers truncate. */
export type StrongHasher = (block: Uint8Array) => Uint8Array;

/**
 * Strong sums of `count` consecutive blocks of `blockLen` bytes from data[start]: block i's
 * first `len` bytes go to out[outAt + i * outStride, ...). A short last block is a call of its own.
 * With `rollsums`, block i's rollsum digest goes to rollsums[i] too (MD4's lanes sum the bytes
 * they hash: the weak sum comes almost free).
 */
export type StrongBlocks = (
  data: Uint8Array,
  start: number,
  count: number,
  blockLen: number,
  out: Uint8Array,
  outAt: number,
  outStride: number,
  len: number,
  rollsums?: Uint32Array,
) => void;

/** MD4 is ours (md4.ts: no WASM copy or allocation per block); BLAKE2b-256 comes from hash-wasm. */
export async function createStrongHasher(magic: number): Promise<StrongHasher> {
  if (strongKindOf(magic) === 'md4') return md4;
  // require, not import(): hash-wasm is one 284 KB CommonJS file, and an ESM import of it first
  // scans all of it for export names (~15 ms of every BLAKE2 run)
  const { createBLAKE2b } = createRequire(import.meta.url)('hash-wasm') as typeof import('hash-wasm');
  const hasher = await createBLAKE2b(256);
  return (block) => {
    hasher.init();
    hasher.update(block);
    return hasher.digest('binary');
  };
}

/** MD4: four blocks at a time (md4-lanes.ts); BLAKE2b-256: one at a time. */
export async function createStrongBlocks(magic: number): Promise<StrongBlocks> {
  if (strongKindOf(magic) === 'md4') return md4Blocks;
  const hash = await createStrongHasher(magic);
  return (data, start, count, blockLen, out, outAt, outStride, len, rollsums) => {
    for (let i = 0, from = start; i < count; i++, from += blockLen) {
      const sum = hash(data.subarray(from, from + blockLen));
      for (let b = 0, at = outAt + i * outStride; b < len; b++) out[at + b] = sum[b]!;
      if (rollsums) rollsums[i] = rollsumOf(data, from, from + blockLen);
    }
  };
}
