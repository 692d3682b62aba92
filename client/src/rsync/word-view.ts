/**
 * Little-endian 32-bit word access to the bytes being summed: MD4 and rollsum read 4-byte
 * aligned data a word at a time (one load instead of four). One cached view per ArrayBuffer,
 * as callers sum many blocks of the same buffer in a row.
 */
import { endianness } from 'node:os';

export const LITTLE_ENDIAN = endianness() === 'LE';

let viewOf: ArrayBufferLike | undefined;
let view: Int32Array<ArrayBufferLike> = new Int32Array(0);

/** True when buf[at...] can be read through wordsOf(buf) starting at word (buf.byteOffset + at) / 4. */
export function wordAligned(buf: Uint8Array, at: number): boolean {
  return LITTLE_ENDIAN && ((buf.byteOffset + at) & 3) === 0;
}

/** All of buf's ArrayBuffer as words. */
export function wordsOf(buf: Uint8Array): Int32Array<ArrayBufferLike> {
  if (viewOf !== buf.buffer) {
    view = new Int32Array(buf.buffer, 0, buf.buffer.byteLength >>> 2);
    viewOf = buf.buffer;
  }
  return view;
}
