import { DeaddropError } from '@deaddrop/common/errors';

/** librsync magic numbers (librsync.h): low nibble = strong sum, next nibble = weak sum. */
export const MAGIC = {
  MD4_ROLLSUM: 0x72730136,
  BLAKE2_ROLLSUM: 0x72730137,
  MD4_RABINKARP: 0x72730146,
  BLAKE2_RABINKARP: 0x72730147,
} as const;
export const DELTA_MAGIC = 0x72730236;

export type StrongKind = 'md4' | 'blake2';
export type WeakKind = 'rollsum' | 'rabinkarp';

export interface SignatureParams {
  magic: number;
  blockLen: number;
  strongLen: number;
}

export function magicFor(strong: StrongKind, weak: WeakKind): number {
  return (strong === 'md4' ? MAGIC.MD4_ROLLSUM : MAGIC.BLAKE2_ROLLSUM) + (weak === 'rabinkarp' ? 0x10 : 0);
}

export function strongKindOf(magic: number): StrongKind {
  return (magic & 0x0f) === 6 ? 'md4' : 'blake2';
}

export function weakKindOf(magic: number): WeakKind {
  return (magic & 0xf0) === 0x30 ? 'rollsum' : 'rabinkarp';
}

export function isSignatureMagic(magic: number): boolean {
  return (Object.values(MAGIC) as number[]).includes(magic);
}

export function maxStrongLen(magic: number): number {
  return strongKindOf(magic) === 'md4' ? 16 : 32;
}

/** Throws a one-line error unless the params describe a valid librsync signature. */
export function checkParams(p: SignatureParams, what = 'signature'): void {
  const hex = `0x${(p.magic >>> 0).toString(16).padStart(8, '0')}`;
  if (!isSignatureMagic(p.magic)) throw new DeaddropError(`${what}: bad magic ${hex} (not a librsync signature)`);
  if (!Number.isInteger(p.blockLen) || p.blockLen < 1 || p.blockLen > 0x7fffffff)
    throw new DeaddropError(`${what}: block length ${p.blockLen} out of range`);
  const max = maxStrongLen(p.magic);
  if (!Number.isInteger(p.strongLen) || p.strongLen < 1 || p.strongLen > max)
    throw new DeaddropError(`${what}: strong sum length ${p.strongLen} out of range 1..${max} for magic ${hex}`);
}

/** Most blocks duplicity-style signatures may hold before the block length grows (table ≤ ~40 MB). */
export const MAX_SIGNATURE_BLOCKS = 1 << 20;

/**
 * Exactly duplicity 0.8.22 (diffdir.get_block_size + rs_sig_begin(bl, 8, MD4)): MD4, rollsum,
 * 8-byte strong sums, 512..2048-byte blocks. Above 2 GiB the block length grows (multiples of
 * 512) so a signature never has more than MAX_SIGNATURE_BLOCKS blocks.
 */
export function duplicitySignatureParams(fileSize: number): SignatureParams {
  let blockLen = fileSize < 1024000 ? 512 : Math.min(Math.floor(fileSize / 1024000) * 512, 2048);
  if (Math.ceil(fileSize / blockLen) > MAX_SIGNATURE_BLOCKS)
    blockLen = Math.ceil(fileSize / MAX_SIGNATURE_BLOCKS / 512) * 512;
  return { magic: MAGIC.MD4_ROLLSUM, blockLen, strongLen: 8 };
}

function floorLog2(n: number): number {
  let r = 0;
  while (n >= 2) {
    n = Math.floor(n / 2);
    r++;
  }
  return r;
}

/** rdiff's defaults (sumset.c:rs_sig_args): blockLen 0 / strongLen 0 or -1 mean "choose". */
export function rdiffDefaultParams(
  size: number | undefined,
  strong: StrongKind = 'blake2',
  weak: WeakKind = 'rabinkarp',
  blockLen = 0,
  strongLen = 0,
): SignatureParams {
  const magic = magicFor(strong, weak);
  if (blockLen === 0) {
    if (size === undefined) blockLen = 2048;
    else if (size <= 65536) blockLen = 256;
    else blockLen = Math.max(128, Math.floor(Math.floor(Math.sqrt(size)) / 128) * 128);
  }
  if (strongLen === 0) strongLen = maxStrongLen(magic);
  else if (strongLen === -1) {
    if (size === undefined) strongLen = 12;
    else strongLen = 2 + Math.floor((floorLog2(size + 2 ** 24) + floorLog2(Math.floor(size / blockLen) + 1) + 7) / 8);
    strongLen = Math.min(strongLen, maxStrongLen(magic));
  }
  return { magic, blockLen, strongLen };
}
