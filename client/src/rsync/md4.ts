/**
 * MD4 (RFC 1320) for rsync strong sums, written for the per-block use of signatures and deltas:
 * hashes buf[start, end) straight from the caller's buffer into the caller's output, with no
 * copy into WASM memory and no allocation per call on the aligned path. The rounds are unrolled
 * over local variables so V8 keeps the state in registers. Checked against the RFC 1320 vectors
 * and hash-wasm in client/test/rsync-md4.test.ts.
 */
import { LITTLE_ENDIAN as LE, wordAligned, wordsOf } from './word-view.js';

const state = new Int32Array(4);
const tailWords = new Int32Array(32);
const tail = new Uint8Array(tailWords.buffer);
const SCRATCH_BLOCKS = 64;
const scratch = new Int32Array(16 * SCRATCH_BLOCKS);

/** Runs the compression function over `count` 64-byte blocks of little-endian words w[wi...]. */
function compressWords(w: Int32Array, wi: number, count: number): void {
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let t = 0;
  for (let n = 0; n < count; n++, wi += 16) {
    const x0 = w[wi]!;
    const x1 = w[wi + 1]!;
    const x2 = w[wi + 2]!;
    const x3 = w[wi + 3]!;
    const x4 = w[wi + 4]!;
    const x5 = w[wi + 5]!;
    const x6 = w[wi + 6]!;
    const x7 = w[wi + 7]!;
    const x8 = w[wi + 8]!;
    const x9 = w[wi + 9]!;
    const x10 = w[wi + 10]!;
    const x11 = w[wi + 11]!;
    const x12 = w[wi + 12]!;
    const x13 = w[wi + 13]!;
    const x14 = w[wi + 14]!;
    const x15 = w[wi + 15]!;
    const a0 = a;
    const b0 = b;
    const c0 = c;
    const d0 = d;
    t = (a + (d ^ (b & (c ^ d))) + x0) | 0;
    a = (t << 3) | (t >>> 29);
    t = (d + (c ^ (a & (b ^ c))) + x1) | 0;
    d = (t << 7) | (t >>> 25);
    t = (c + (b ^ (d & (a ^ b))) + x2) | 0;
    c = (t << 11) | (t >>> 21);
    t = (b + (a ^ (c & (d ^ a))) + x3) | 0;
    b = (t << 19) | (t >>> 13);
    t = (a + (d ^ (b & (c ^ d))) + x4) | 0;
    a = (t << 3) | (t >>> 29);
    t = (d + (c ^ (a & (b ^ c))) + x5) | 0;
    d = (t << 7) | (t >>> 25);
    t = (c + (b ^ (d & (a ^ b))) + x6) | 0;
    c = (t << 11) | (t >>> 21);
    t = (b + (a ^ (c & (d ^ a))) + x7) | 0;
    b = (t << 19) | (t >>> 13);
    t = (a + (d ^ (b & (c ^ d))) + x8) | 0;
    a = (t << 3) | (t >>> 29);
    t = (d + (c ^ (a & (b ^ c))) + x9) | 0;
    d = (t << 7) | (t >>> 25);
    t = (c + (b ^ (d & (a ^ b))) + x10) | 0;
    c = (t << 11) | (t >>> 21);
    t = (b + (a ^ (c & (d ^ a))) + x11) | 0;
    b = (t << 19) | (t >>> 13);
    t = (a + (d ^ (b & (c ^ d))) + x12) | 0;
    a = (t << 3) | (t >>> 29);
    t = (d + (c ^ (a & (b ^ c))) + x13) | 0;
    d = (t << 7) | (t >>> 25);
    t = (c + (b ^ (d & (a ^ b))) + x14) | 0;
    c = (t << 11) | (t >>> 21);
    t = (b + (a ^ (c & (d ^ a))) + x15) | 0;
    b = (t << 19) | (t >>> 13);
    t = (a + ((b & c) | (d & (b | c))) + x0 + 0x5a827999) | 0;
    a = (t << 3) | (t >>> 29);
    t = (d + ((a & b) | (c & (a | b))) + x4 + 0x5a827999) | 0;
    d = (t << 5) | (t >>> 27);
    t = (c + ((d & a) | (b & (d | a))) + x8 + 0x5a827999) | 0;
    c = (t << 9) | (t >>> 23);
    t = (b + ((c & d) | (a & (c | d))) + x12 + 0x5a827999) | 0;
    b = (t << 13) | (t >>> 19);
    t = (a + ((b & c) | (d & (b | c))) + x1 + 0x5a827999) | 0;
    a = (t << 3) | (t >>> 29);
    t = (d + ((a & b) | (c & (a | b))) + x5 + 0x5a827999) | 0;
    d = (t << 5) | (t >>> 27);
    t = (c + ((d & a) | (b & (d | a))) + x9 + 0x5a827999) | 0;
    c = (t << 9) | (t >>> 23);
    t = (b + ((c & d) | (a & (c | d))) + x13 + 0x5a827999) | 0;
    b = (t << 13) | (t >>> 19);
    t = (a + ((b & c) | (d & (b | c))) + x2 + 0x5a827999) | 0;
    a = (t << 3) | (t >>> 29);
    t = (d + ((a & b) | (c & (a | b))) + x6 + 0x5a827999) | 0;
    d = (t << 5) | (t >>> 27);
    t = (c + ((d & a) | (b & (d | a))) + x10 + 0x5a827999) | 0;
    c = (t << 9) | (t >>> 23);
    t = (b + ((c & d) | (a & (c | d))) + x14 + 0x5a827999) | 0;
    b = (t << 13) | (t >>> 19);
    t = (a + ((b & c) | (d & (b | c))) + x3 + 0x5a827999) | 0;
    a = (t << 3) | (t >>> 29);
    t = (d + ((a & b) | (c & (a | b))) + x7 + 0x5a827999) | 0;
    d = (t << 5) | (t >>> 27);
    t = (c + ((d & a) | (b & (d | a))) + x11 + 0x5a827999) | 0;
    c = (t << 9) | (t >>> 23);
    t = (b + ((c & d) | (a & (c | d))) + x15 + 0x5a827999) | 0;
    b = (t << 13) | (t >>> 19);
    t = (a + (b ^ c ^ d) + x0 + 0x6ed9eba1) | 0;
    a = (t << 3) | (t >>> 29);
    t = (d + (a ^ b ^ c) + x8 + 0x6ed9eba1) | 0;
    d = (t << 9) | (t >>> 23);
    t = (c + (d ^ a ^ b) + x4 + 0x6ed9eba1) | 0;
    c = (t << 11) | (t >>> 21);
    t = (b + (c ^ d ^ a) + x12 + 0x6ed9eba1) | 0;
    b = (t << 15) | (t >>> 17);
    t = (a + (b ^ c ^ d) + x2 + 0x6ed9eba1) | 0;
    a = (t << 3) | (t >>> 29);
    t = (d + (a ^ b ^ c) + x10 + 0x6ed9eba1) | 0;
    d = (t << 9) | (t >>> 23);
    t = (c + (d ^ a ^ b) + x6 + 0x6ed9eba1) | 0;
    c = (t << 11) | (t >>> 21);
    t = (b + (c ^ d ^ a) + x14 + 0x6ed9eba1) | 0;
    b = (t << 15) | (t >>> 17);
    t = (a + (b ^ c ^ d) + x1 + 0x6ed9eba1) | 0;
    a = (t << 3) | (t >>> 29);
    t = (d + (a ^ b ^ c) + x9 + 0x6ed9eba1) | 0;
    d = (t << 9) | (t >>> 23);
    t = (c + (d ^ a ^ b) + x5 + 0x6ed9eba1) | 0;
    c = (t << 11) | (t >>> 21);
    t = (b + (c ^ d ^ a) + x13 + 0x6ed9eba1) | 0;
    b = (t << 15) | (t >>> 17);
    t = (a + (b ^ c ^ d) + x3 + 0x6ed9eba1) | 0;
    a = (t << 3) | (t >>> 29);
    t = (d + (a ^ b ^ c) + x11 + 0x6ed9eba1) | 0;
    d = (t << 9) | (t >>> 23);
    t = (c + (d ^ a ^ b) + x7 + 0x6ed9eba1) | 0;
    c = (t << 11) | (t >>> 21);
    t = (b + (c ^ d ^ a) + x15 + 0x6ed9eba1) | 0;
    b = (t << 15) | (t >>> 17);
    a = (a + a0) | 0;
    b = (b + b0) | 0;
    c = (c + c0) | 0;
    d = (d + d0) | 0;
  }
  state[0] = a;
  state[1] = b;
  state[2] = c;
  state[3] = d;
}

/** Compresses `count` 64-byte blocks of buf from `at`: in place when aligned, else via scratch. */
function compress(buf: Uint8Array, at: number, count: number): void {
  if (wordAligned(buf, at)) {
    compressWords(wordsOf(buf), (buf.byteOffset + at) >>> 2, count);
    return;
  }
  while (count > 0) {
    const k = Math.min(count, SCRATCH_BLOCKS);
    for (let i = 0, p = at; i < k * 16; i++, p += 4)
      scratch[i] = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
    compressWords(scratch, 0, k);
    count -= k;
    at += k * 64;
  }
}

/** MD4 of buf[start, end); writes its first `len` (<= 16) bytes to out[outAt, outAt + len). */
export function md4Into(buf: Uint8Array, start: number, end: number, out: Uint8Array, outAt: number, len = 16): void {
  state[0] = 0x67452301;
  state[1] = 0xefcdab89 | 0;
  state[2] = 0x98badcfe | 0;
  state[3] = 0x10325476;
  const n = end - start;
  const whole = n >>> 6;
  if (whole > 0) compress(buf, start, whole);
  // padding: the rest, 0x80, zeros, then the length in bits (64-bit little-endian)
  const rest = n & 63;
  const from = start + whole * 64;
  for (let i = 0; i < rest; i++) tail[i] = buf[from + i]!;
  tail[rest] = 0x80;
  const last = rest < 56 ? 64 : 128;
  tail.fill(0, rest + 1, last - 8);
  const lo = (n << 3) >>> 0;
  const hi = Math.floor(n / 0x20000000);
  for (let i = 0; i < 4; i++) {
    tail[last - 8 + i] = (lo >>> (8 * i)) & 0xff;
    tail[last - 4 + i] = (hi >>> (8 * i)) & 0xff;
  }
  if (LE) compressWords(tailWords, 0, last >>> 6);
  else compress(tail, 0, last >>> 6);
  for (let i = 0; i < len; i++) out[outAt + i] = (state[i >>> 2]! >>> (8 * (i & 3))) & 0xff;
}

/** MD4 of data as a new 16-byte array. */
export function md4(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  md4Into(data, 0, data.length, out, 0);
  return out;
}
