/**
 * MD4 of many equal-length blocks, four at a time: one WebAssembly SIMD lane per block. MD4's
 * rounds are a chain where each step waits for the one before, so a scalar MD4 (md4.ts) cannot
 * go faster than that chain; four independent blocks in the four 32-bit lanes of a v128 take
 * the same steps as one. Signatures hash every block of a file and deltas hash runs of matching
 * blocks, so blocks come in fours. The same pass sums each block's rollsum (the weak sum that
 * pairs with MD4), from the bytes it has loaded anyway. Measured here over 150 MiB of 2 KiB
 * blocks: MD4 + rollsum 105 ms, against 185 + 58 ms in md4.ts and weaksum.ts.
 *
 * Runs of 8 blocks or more go to the md4 addon where it is built and the CPU has AVX-512F:
 * sixteen lanes (client/native/md4.c, md4Lanes16 below).
 *
 * Where WebAssembly SIMD is missing (node --jitless, a big-endian host) or DEADDROP_NO_SIMD=1,
 * md4Blocks goes block by block through md4.ts and weaksum.ts: same results. Checked against
 * them in client/test/rsync-md4.test.ts.
 */
import { loadAddon } from '../native/load-addon.js';
import { md4Into } from './md4.js';
import type { StrongBlocks } from './strongsum.js';
import { I32, V128, moduleOfOneFunction, op, v128, wasm, type WasmMemory } from './wasm-encoding.js';
import { rollsumDigest, rollsumOf } from './weaksum.js';
import { LITTLE_ENDIAN } from './word-view.js';

// Memory layout: the state (A, B, C, D: one v128 each, lane k = block k), then the four padded
// tails (128 bytes each), the rollsum accumulators (3 per lane), then from DATA the four blocks
// in a row; or there a range of a file read in to be hashed in place, and the four blocks after it.
const TAILS = 64;
const TAIL_STRIDE = 128;
const SUMS = TAILS + 4 * TAIL_STRIDE;
const DATA = 1024;
const PAGE = 65536;
/** Longer blocks go one at a time: four of them are copied here, and memory never shrinks. */
const MAX_LANE_BLOCK = 1 << 20;

// Locals of compress(p, stride, n): the params, three more lane pointers, then v128s.
const P = 0;
const STRIDE = 1;
const N = 2;
const Q = [P, 3, 4, 5];
const A = 6; // A, B, C, D: 6-9
const SAVED = 10; // A0..D0: 10-13
const ROW = 14; // 14-17: ROW + k = lane k's next 16 bytes
const T = 18; // 18-21: temporaries
const X = 22; // 22-37: the chunk's 16 words, transposed (X + j = word j of every lane)
const SUM = 38; // 38-49: per lane k, rollsum accumulators SUM + 3k (see rollsumRow)
const WEIGHTS = 50; // 50-51: 0..7 and 8..15 as i16x8
const V128_LOCALS = 52 - A;

/** 16 bytes: eight little-endian 16-bit lanes. */
const i16x8 = (lanes: number[]) => v128.const(lanes.flatMap((v) => [v & 0xff, v >>> 8]));

/**
 * Rollsum of a lane's bytes, 16 at a time, in 16-bit lanes (librsync's sums are mod 2^16):
 * S += pair sums of the row; R += S (so each row's bytes count once for every row from theirs
 * on); U += each byte times its place in the row. Over M rows of L = 16M bytes, the raw sums
 * (no +31 offsets) are s1 = ΣS, s2 = Σ(L - i)·b_i = 16·ΣR - ΣU; rollsumOfLane finishes them.
 */
function rollsumRow(row: number, lane: number): number[][] {
  const [s, r, u] = [SUM + 3 * lane, SUM + 3 * lane + 1, SUM + 3 * lane + 2];
  return [
    [...op.get(s), ...op.get(row), ...v128.pairSums8, ...v128.add16, ...op.tee(s)],
    [...op.get(r), ...v128.add16, ...op.set(r)],
    [...op.get(u), ...op.get(row), ...v128.widenLow8, ...op.get(WEIGHTS), ...v128.mul16, ...v128.add16],
    [...op.get(row), ...v128.widenHigh8, ...op.get(WEIGHTS + 1), ...v128.mul16, ...v128.add16, ...op.set(u)],
  ];
}

/**
 * compress(p, stride, n): runs MD4's compression over n 64-byte chunks of four messages, lane k's
 * chunks at p + k * stride, p + k * stride + 64, ...; the state stays in memory at 0. The lanes'
 * rollsum accumulators over these chunks go to memory at SUMS.
 */
function compressBody(): number[] {
  const code: number[] = [];
  const emit = (...parts: number[][]) => parts.forEach((p) => code.push(...p));
  for (let s = 0; s < 4; s++) emit(op.i32(0), v128.load(16 * s), op.set(A + s));
  emit(i16x8([0, 1, 2, 3, 4, 5, 6, 7]), op.set(WEIGHTS), i16x8([8, 9, 10, 11, 12, 13, 14, 15]), op.set(WEIGHTS + 1));
  for (let i = 0; i < 12; i++) emit(i16x8(Array<number>(8).fill(0)), op.set(SUM + i));
  for (let k = 1; k < 4; k++) emit(op.get(Q[k - 1]!), op.get(STRIDE), op.i32Add, op.set(Q[k]!));
  emit(op.block, op.loop, op.get(N), op.i32Eqz, op.brIf(1));
  // Four words of each lane, then a 4x4 transpose: word j of lanes 0-3 into one v128.
  for (let g = 0; g < 4; g++) {
    for (let k = 0; k < 4; k++) emit(op.get(Q[k]!), v128.load(16 * g), op.set(ROW + k), ...rollsumRow(ROW + k, k));
    const pair = (x: number, y: number, lanes: number[], to: number) =>
      emit(op.get(x), op.get(y), v128.shuffle32(lanes), op.set(to));
    pair(ROW, ROW + 1, [0, 4, 1, 5], T);
    pair(ROW, ROW + 1, [2, 6, 3, 7], T + 1);
    pair(ROW + 2, ROW + 3, [0, 4, 1, 5], T + 2);
    pair(ROW + 2, ROW + 3, [2, 6, 3, 7], T + 3);
    pair(T, T + 2, [0, 1, 4, 5], X + 4 * g);
    pair(T, T + 2, [2, 3, 6, 7], X + 4 * g + 1);
    pair(T + 1, T + 3, [0, 1, 4, 5], X + 4 * g + 2);
    pair(T + 1, T + 3, [2, 3, 6, 7], X + 4 * g + 3);
  }
  for (let s = 0; s < 4; s++) emit(op.get(A + s), op.set(SAVED + s));
  for (let i = 0; i < 48; i++) emit(...md4Step(i));
  for (let s = 0; s < 4; s++) emit(op.get(A + s), op.get(SAVED + s), v128.add32, op.set(A + s));
  for (const q of Q) emit(op.get(q), op.i32(64), op.i32Add, op.set(q));
  emit(op.get(N), op.i32(1), op.i32Sub, op.set(N), op.br(0), op.end, op.end);
  for (let s = 0; s < 4; s++) emit(op.i32(0), op.get(A + s), v128.store(16 * s));
  for (let i = 0; i < 12; i++) emit(op.i32(0), op.get(SUM + i), v128.store(SUMS + 16 * i));
  return code;
}

// RFC 1320: per round, the shifts of its four steps, the word order and the added constant.
const SHIFTS = [
  [3, 7, 11, 19],
  [3, 5, 9, 13],
  [3, 9, 11, 15],
];
const WORDS = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15],
  [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15],
];
const ADDED = [0, 0x5a827999, 0x6ed9eba1];

/** Step i: a = (a + f(b, c, d) + X[k] + K) <<< s, with a..d renamed each step. */
function md4Step(i: number): number[][] {
  const round = Math.floor(i / 16);
  const j = i % 16;
  // the registers rotate: steps 0, 1, 2, 3 of each four update a, d, c, b
  const [a, b, c, d] = [0, 1, 2, 3].map((n) => A + ((n - (j % 4) + 4) % 4)) as [number, number, number, number];
  const f =
    round === 0
      ? [op.get(c), op.get(d), op.get(b), v128.bitselect] // F: b ? c : d
      : round === 1
        ? [op.get(d), op.get(b), op.get(b), op.get(c), v128.xor, v128.bitselect] // G: majority
        : [op.get(b), op.get(c), v128.xor, op.get(d), v128.xor]; // H: parity
  const s = SHIFTS[round]![j % 4]!;
  const added = ADDED[round]! ? [op.i32(ADDED[round]!), v128.splat32, v128.add32] : [];
  return [
    op.get(a),
    ...f,
    v128.add32,
    op.get(X + WORDS[round]![j]!),
    v128.add32,
    ...added,
    op.tee(T),
    op.i32(s),
    v128.shl32,
    op.get(T),
    op.i32(32 - s),
    v128.shrU32,
    v128.or,
    op.set(a),
  ];
}

const INIT = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];

class Kernel {
  private bytes: Uint8Array;
  private words: Int32Array;
  private halves: Uint16Array;
  /** Where blocks from outside this memory are copied to: DATA, or past the inPlace buffer. */
  private copyAt = DATA;
  /** After hash4 with rollsums: the lanes' rollsum digests. */
  readonly rollsums = new Uint32Array(4);

  constructor(
    private readonly memory: WasmMemory,
    private readonly compress: (p: number, stride: number, n: number) => void,
  ) {
    this.bytes = new Uint8Array(memory.buffer);
    this.words = new Int32Array(memory.buffer);
    this.halves = new Uint16Array(memory.buffer);
  }

  /**
   * A buffer of `len` bytes in this memory (see rangeBufferFor), valid until the memory grows:
   * blocks of up to blockLen hashed from it are not copied, and lanes past its end read memory
   * that is there.
   */
  inPlace(len: number, blockLen: number): Uint8Array {
    // blocks hashed from elsewhere are copied in after it, never over it
    this.copyAt = Math.max(this.copyAt, DATA + len + 4 * blockLen);
    this.reserve(blockLen);
    return this.bytes.subarray(DATA, DATA + len);
  }

  /** Room for four blocks of blockLen at copyAt; growing the memory detaches the old views. */
  private reserve(blockLen: number): void {
    const need = this.copyAt + 4 * blockLen;
    if (need <= this.bytes.length) return;
    this.memory.grow(Math.ceil((need - this.bytes.length) / PAGE));
    this.bytes = new Uint8Array(this.memory.buffer);
    this.words = new Int32Array(this.memory.buffer);
    this.halves = new Uint16Array(this.memory.buffer);
  }

  /**
   * MD4 of `lanes` (1-4) consecutive blocks data[start + k * blockLen, ...), left in the state;
   * with `rollsums`, their rollsums in this.rollsums. Blocks in an inPlace buffer are hashed
   * where they are; others are copied in first.
   */
  hash4(data: Uint8Array, start: number, lanes: number, blockLen: number, rollsums: boolean): void {
    this.reserve(blockLen);
    const { bytes, words } = this;
    let base = this.copyAt;
    if (data.buffer === bytes.buffer) base = data.byteOffset + start;
    else bytes.set(data.subarray(start, start + lanes * blockLen), base);
    for (let s = 0; s < 4; s++) words.fill(INIT[s]!, 4 * s, 4 * s + 4);
    const whole = blockLen >>> 6;
    if (whole > 0) this.compress(base, blockLen, whole);
    if (rollsums) for (let k = 0; k < lanes; k++) this.rollsums[k] = this.rollsumOfLane(base, k, whole, blockLen);
    // padding: the rest, 0x80, zeros, the length in bits (64-bit little-endian); lanes agree on
    // all but the rest, so the unused lanes hash whatever lies there and are ignored
    const rest = blockLen & 63;
    const chunks = rest < 56 ? 1 : 2;
    const lo = (blockLen << 3) >>> 0;
    const hi = Math.floor(blockLen / 0x20000000);
    for (let k = 0; k < 4; k++) {
      const tail = TAILS + k * TAIL_STRIDE;
      const from = base + k * blockLen + whole * 64;
      bytes.copyWithin(tail, from, from + rest);
      bytes[tail + rest] = 0x80;
      bytes.fill(0, tail + rest + 1, tail + chunks * 64 - 8);
      words[(tail >>> 2) + chunks * 16 - 2] = lo;
      words[(tail >>> 2) + chunks * 16 - 1] = hi;
    }
    this.compress(TAILS, TAIL_STRIDE, chunks);
  }

  /** Lane k's rollsum digest: its accumulators (whole chunks), then the rest byte by byte. */
  private rollsumOfLane(base: number, k: number, whole: number, blockLen: number): number {
    let s = 0;
    let r = 0;
    let u = 0;
    if (whole > 0) {
      const { halves } = this;
      const at = (SUMS >>> 1) + 24 * k;
      for (let i = 0; i < 8; i++) {
        s += halves[at + i]!;
        r += halves[at + 8 + i]!;
        u += halves[at + 16 + i]!;
      }
    }
    let s1 = s;
    let s2 = 16 * r - u;
    const { bytes } = this;
    for (let i = base + k * blockLen + whole * 64, end = base + (k + 1) * blockLen; i < end; i++) {
      s1 += bytes[i]!;
      s2 += s1;
    }
    return rollsumDigest(s1, s2, blockLen);
  }

  /** Lane k's digest, its first `len` bytes to out[at...]. */
  digest(k: number, out: Uint8Array, at: number, len: number): void {
    const { bytes } = this;
    for (let i = 0; i < len; i++) out[at + i] = bytes[(i >>> 2) * 16 + k * 4 + (i & 3)]!;
  }
}

function loadKernel(): Kernel | null {
  if (!LITTLE_ENDIAN || !wasm || process.env.DEADDROP_NO_SIMD === '1') return null;
  try {
    const bytes = moduleOfOneFunction({
      fnName: 'compress',
      params: 3,
      locals: [
        [3, I32],
        [V128_LOCALS, V128],
      ],
      body: compressBody(),
      pages: 1,
    });
    if (!wasm?.validate(bytes)) return null;
    const { exports } = new wasm.Instance(new wasm.Module(bytes));
    return new Kernel(exports.memory as WasmMemory, exports.compress as (p: number, s: number, n: number) => void);
  } catch {
    return null; // no WebAssembly SIMD here: md4.ts does it all
  }
}

let kernel: Kernel | null | undefined;

interface Md4Addon {
  lanes(): number;
  md4Blocks(...args: Parameters<StrongBlocks>): void;
}

/**
 * Sixteen blocks at a time in AVX-512 (client/native/md4.c), where the addon is built and the
 * CPU has AVX-512F: a full backup's signatures, 256 MiB of 2 KiB blocks, in 107-120 ms against
 * 282-301 ms in the four WebAssembly lanes. DEADDROP_NO_SIMD=1 turns it off with them.
 */
let addon: Md4Addon | null | undefined;
function md4Lanes16(): Md4Addon | null {
  if (addon === undefined) {
    const a = loadAddon<Md4Addon>('md4', process.env.DEADDROP_NO_SIMD === '1');
    addon = a && a.lanes() === 16 ? a : null;
  }
  return addon;
}

/** True when md4Blocks runs 8 blocks or more sixteen at a time here (the md4 addon, AVX-512F). */
export const md4Lanes16Here = (): boolean => md4Lanes16() !== null;

/** Fewer blocks than this go to the four lanes (a delta's runs of matches): the addon's call costs more. */
const LANES16_FROM = 8;
/** The addon's largest block (librsync's are far smaller: the square root of the file's size). */
const LANES16_MAX_BLOCK = 1 << 24;

/**
 * A buffer for `len` bytes of a file that md4Blocks will hash in blocks of blockLen: in the
 * lanes' own memory where they run, so the blocks are not copied again (150 MiB: ~10 ms). It is
 * valid until md4Blocks next runs on longer blocks: take a new one for every read.
 */
export function rangeBufferFor(len: number, blockLen: number): Uint8Array {
  return md4LanesFor(blockLen) ? kernel!.inPlace(len, blockLen) : new Uint8Array(len);
}

/** True when md4Blocks runs blocks of blockLen four at a time here (else one at a time, in md4.ts). */
export function md4LanesFor(blockLen: number): boolean {
  kernel ??= loadKernel();
  return kernel !== null && blockLen <= MAX_LANE_BLOCK;
}

/**
 * MD4 of `count` blocks of `blockLen` bytes from data[start]: block i's first `len` bytes go to
 * out[outAt + i * outStride, ...). With `rollsums`, also block i's rollsum digest to rollsums[i]:
 * the lanes sum the bytes they hash, so the weak sum costs little more.
 */
export const md4Blocks: StrongBlocks = (data, start, count, blockLen, out, outAt, outStride, len, rollsums) => {
  const lanes16 = count >= LANES16_FROM && blockLen <= LANES16_MAX_BLOCK ? md4Lanes16() : null;
  if (lanes16) return lanes16.md4Blocks(data, start, count, blockLen, out, outAt, outStride, len, rollsums);
  const lanes4 = md4LanesFor(blockLen) ? kernel : null;
  let i = 0;
  // one block alone is faster through md4.ts than in a lane of four
  for (; lanes4 && count - i >= 2; i += 4) {
    const lanes = Math.min(4, count - i);
    lanes4.hash4(data, start + i * blockLen, lanes, blockLen, rollsums !== undefined);
    for (let k = 0; k < lanes; k++) {
      lanes4.digest(k, out, outAt + (i + k) * outStride, len);
      if (rollsums) rollsums[i + k] = lanes4.rollsums[k]!;
    }
  }
  for (; i < count; i++) {
    const from = start + i * blockLen;
    md4Into(data, from, from + blockLen, out, outAt + i * outStride, len);
    if (rollsums) rollsums[i] = rollsumOf(data, from, from + blockLen);
  }
};
