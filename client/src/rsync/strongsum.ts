import { createBLAKE2b, createMD4, type IHasher } from 'hash-wasm';
import { strongKindOf } from './magic.js';

/** Computes the full strong sum (MD4 or BLAKE2b-256) of one block; callers truncate. */
export type StrongHasher = (block: Uint8Array) => Uint8Array;

export async function createStrongHasher(magic: number): Promise<StrongHasher> {
  const hasher: IHasher = strongKindOf(magic) === 'md4' ? await createMD4() : await createBLAKE2b(256);
  return (block) => {
    hasher.init();
    hasher.update(block);
    return hasher.digest('binary');
  };
}
