/**
 * The delta scan's rolling step in WebAssembly. Where no block starts, the scan rolls its weak
 * sum one byte at a time and asks the index's filter whether a block may start there (delta.ts).
 * In JavaScript that loop runs slowly until V8 has optimized it, and the first changed stretch
 * of a file is where it first runs: in a one-off `deaddrop rdiff delta` of a 150 MiB file with
 * 2 MiB changed, the ranges that hold the change took ~40 ms in JavaScript and take ~23 ms
 * here. WebAssembly is compiled (~0.5 ms) before it runs; warm, a MiB of rewritten data takes
 * 3.7 ms here against 4.7 ms.
 *
 * The loop reads the bytes and the filter from this module's memory, so the scanner's bytes are
 * copied into a window here (up to 64 KiB of rolling plus one block per copy) and the filter
 * once per signature index. It ends where the JavaScript loop would: at a filter hit or at
 * `stop`. Checked against that loop in client/test/rsync-roll-kernel.test.ts.
 */
import { I32, moduleOfOneFunction, op, wasm, type WasmMemory } from './wasm-encoding.js';
import { RK_ADJUST, RK_MULT, ROLLSUM_OFFSET } from './weaksum.js';
import { LITTLE_ENDIAN } from './word-view.js';

/** Blocks longer than this roll in JavaScript: every window would copy a whole block again. */
export const MAX_KERNEL_BLOCK = 1 << 20;
/** Bytes of rolling one window allows (delta.ts rolls at most 32 KiB between literal flushes). */
const WINDOW_ROLL = 64 * 1024;
const PAGE = 65536;

// Memory: the weak-sum state (s1, s2; or h) at STATE, the filter at FILTER, the window after it.
const STATE = 0;
const FILTER = 64;
const FILTER_MAX = 64 * 1024;
const WINDOW = FILTER + FILTER_MAX;

// roll(p, stop, n, shift, kind, pow) -> p. Locals after the params: s1 (or h), s2, out, f.
const [P, STOP, N, SHIFT, KIND, POW] = [0, 1, 2, 3, 4, 5];
const [S1, S2, OUT, F] = [6, 7, 8, 9];
const H = S1;
const HASH_MULT = 0x9e3779b1 | 0; // sum-index.ts's bucket hash

/**
 * Back to the loop's start unless the filter has the bit of local F's hash; on a hit, on past
 * the loop's end (a WebAssembly loop repeats only by a branch to it).
 */
function nextUnlessFilterHit(): number[] {
  return [
    ...[...op.get(F), ...op.i32(5), ...op.i32ShrU, ...op.i32(2), ...op.i32Shl, ...op.i32Load(FILTER)],
    ...[...op.get(F), ...op.i32ShrU, ...op.i32(1), ...op.i32And, ...op.i32Eqz, ...op.brIf(0)],
  ];
}

/** The filter bit's hash of the 32-bit value on the stack, into local F. */
const filterHash = [...op.i32(HASH_MULT), ...op.i32Mul, ...op.get(SHIFT), ...op.i32ShrU, ...op.set(F)];

/** After p++: leave both loops (depth 1 from inside the loop) when p reaches stop. */
const stepAndStopAt = [...op.get(P), ...op.i32(1), ...op.i32Add, ...op.tee(P), ...op.get(STOP), ...op.i32GeU, ...op.brIf(1)]; // prettier-ignore

function rollBody(): number[] {
  const rollsum = [
    ...[...op.i32(STATE), ...op.i32Load(0), ...op.set(S1), ...op.i32(STATE), ...op.i32Load(4), ...op.set(S2)],
    ...op.block,
    ...op.loop,
    // s1 += in - out; s2 += s1 - n * (out + 31)
    ...[...op.get(P), ...op.i32Load8U(0), ...op.set(OUT)],
    ...[...op.get(S1), ...op.get(P), ...op.get(N), ...op.i32Add, ...op.i32Load8U(0), ...op.i32Add],
    ...[...op.get(OUT), ...op.i32Sub, ...op.set(S1)],
    ...[...op.get(S2), ...op.get(S1), ...op.i32Add, ...op.get(N), ...op.get(OUT), ...op.i32(ROLLSUM_OFFSET)],
    ...[...op.i32Add, ...op.i32Mul, ...op.i32Sub, ...op.set(S2)],
    ...stepAndStopAt,
    // digest s2 << 16 | s1 (mod 2^16 each)
    ...[...op.get(S2), ...op.i32(16), ...op.i32Shl, ...op.get(S1), ...op.i32(0xffff), ...op.i32And, ...op.i32Or],
    ...filterHash,
    ...nextUnlessFilterHit(),
    ...op.end,
    ...op.end,
    ...[...op.i32(STATE), ...op.get(S1), ...op.i32Store(0), ...op.i32(STATE), ...op.get(S2), ...op.i32Store(4)],
  ];
  const rabinKarp = [
    ...[...op.i32(STATE), ...op.i32Load(0), ...op.set(H)],
    ...op.block,
    ...op.loop,
    // h = h * M + in - pow * (out + adjust)
    ...[...op.get(H), ...op.i32(RK_MULT), ...op.i32Mul, ...op.get(P), ...op.get(N), ...op.i32Add, ...op.i32Load8U(0)],
    ...[...op.i32Add, ...op.get(POW), ...op.get(P), ...op.i32Load8U(0), ...op.i32(RK_ADJUST), ...op.i32Add],
    ...[...op.i32Mul, ...op.i32Sub, ...op.set(H)],
    ...stepAndStopAt,
    ...op.get(H),
    ...filterHash,
    ...nextUnlessFilterHit(),
    ...op.end,
    ...op.end,
    ...[...op.i32(STATE), ...op.get(H), ...op.i32Store(0)],
  ];
  return [...op.get(KIND), ...op.i32Eqz, ...op.if, ...rollsum, ...op.else, ...rabinKarp, ...op.end, ...op.get(P)];
}

type RollFn = (p: number, stop: number, n: number, shift: number, kind: number, pow: number) => number;

/** What a window mirrors: whose bytes (a scanner and its buffer generation) and which of them. */
interface WindowOwner {
  readonly rollWindow: { generation: number };
}

export class RollKernel {
  private bytes: Uint8Array;
  private words: Int32Array;
  private filter: Int32Array<ArrayBufferLike> | undefined;
  private owner: WindowOwner | undefined;
  private generation = -1;
  private from = 0;
  private to = 0;
  /** The weak sum after roll(): s1 and s2 (rollsum) or h in s1 (RabinKarp). */
  s1 = 0;
  s2 = 0;

  constructor(
    private readonly memory: WasmMemory,
    private readonly rollFn: RollFn,
  ) {
    this.bytes = new Uint8Array(memory.buffer);
    this.words = new Int32Array(memory.buffer);
  }

  /**
   * Rolls buf's window [p, p + n) on to stop (exclusive) or to the first position whose hash
   * has its bit in `filter`, as delta.ts's loop does; returns that position. The weak sum goes
   * in as s1, s2 (rollsum) or s1 = h (RabinKarp; `pow` is M^n) and comes out in this.s1/s2.
   * `owner` says whose bytes buf holds: a window copied earlier is reused while its owner's
   * generation is the same (the scanner moves its bytes only when it bumps it).
   */
  roll(
    owner: WindowOwner,
    buf: Uint8Array,
    p: number,
    stop: number,
    n: number,
    rollsum: boolean,
    s1: number,
    s2: number,
    pow: number,
    filter: Int32Array<ArrayBufferLike>,
    filterShift: number,
  ): number {
    if (filter !== this.filter) {
      this.bytes.set(new Uint8Array(filter.buffer, filter.byteOffset, filter.byteLength), FILTER);
      this.filter = filter;
    }
    if (
      owner !== this.owner ||
      owner.rollWindow.generation !== this.generation ||
      p < this.from ||
      stop + n > this.to
    ) {
      const to = Math.min(buf.length, p + WINDOW_ROLL + n);
      this.reserve(WINDOW + (to - p));
      this.bytes.set(buf.subarray(p, to), WINDOW);
      this.owner = owner;
      this.generation = owner.rollWindow.generation;
      this.from = p;
      this.to = to;
    }
    const base = WINDOW - this.from;
    this.words[STATE >>> 2] = s1;
    this.words[(STATE >>> 2) + 1] = s2;
    const at = this.rollFn(base + p, base + stop, n, filterShift, rollsum ? 0 : 1, pow) - base;
    this.s1 = this.words[STATE >>> 2]!;
    this.s2 = this.words[(STATE >>> 2) + 1]!;
    return at;
  }

  /** Memory of at least `bytes`; growing it detaches the old views. */
  private reserve(bytes: number): void {
    if (bytes <= this.bytes.length) return;
    this.memory.grow(Math.ceil((bytes - this.bytes.length) / PAGE));
    this.bytes = new Uint8Array(this.memory.buffer);
    this.words = new Int32Array(this.memory.buffer);
  }
}

function loadKernel(): RollKernel | null {
  if (!LITTLE_ENDIAN || !wasm) return null;
  try {
    const bytes = moduleOfOneFunction({
      fnName: 'roll',
      params: 6,
      result: true,
      locals: [[4, I32]],
      body: rollBody(),
      pages: Math.ceil((WINDOW + WINDOW_ROLL) / PAGE) + 1,
    });
    const { exports } = new wasm.Instance(new wasm.Module(bytes));
    return new RollKernel(exports.memory as WasmMemory, exports.roll as RollFn);
  } catch {
    return null; // no WebAssembly here (node --jitless): delta.ts rolls in JavaScript
  }
}

let kernel: RollKernel | null | undefined;
let enabled = true;

/** This thread's kernel, or null where there is no WebAssembly, the filter is too big, or it is switched off. */
export function rollKernelFor(filter: Int32Array<ArrayBufferLike>): RollKernel | null {
  if (!enabled || filter.byteLength > FILTER_MAX) return null;
  kernel ??= loadKernel();
  return kernel;
}

/** Tests: roll in JavaScript (false) or here (true), to compare the two. */
export function useRollKernel(on: boolean): void {
  enabled = on;
}
