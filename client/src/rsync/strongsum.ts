import { createRequire } from 'node:module';
import { strongKindOf } from './magic.js';
import { md4, md4Into } from './md4.js';

/** Computes the full strong sum (MD4 or BLAKE2b-256) of one block; callers truncate. */
export type StrongHasher = (block: Uint8Array) => Uint8Array;

/** Writes the first `len` bytes of the strong sum of buf[start, end) to out[outAt, ...). */
export type StrongInto = (
  buf: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  outAt: number,
  len: number,
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

export async function createStrongInto(magic: number): Promise<StrongInto> {
  if (strongKindOf(magic) === 'md4') return md4Into;
  const hash = await createStrongHasher(magic);
  return (buf, start, end, out, outAt, len) => out.set(hash(buf.subarray(start, end)).subarray(0, len), outAt);
}
