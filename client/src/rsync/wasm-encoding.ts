/**
 * Just enough of the WebAssembly binary format (core spec §5, SIMD opcodes of the fixed-width
 * SIMD proposal) to build a module of one exported function and one exported memory at run
 * time. md4-lanes.ts uses it to write its 4-lane MD4 as straight-line code from the MD4 round
 * tables, and roll-kernel.ts its rolling scan, so no generated binary sits in the repository
 * and no assembler loads at start-up.
 */

/** The WebAssembly API used here (the project compiles without the DOM's type library). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
  Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
/** Node's WebAssembly, or undefined (node built without it: --jitless). */
export const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

export const I32 = 0x7f;
export const V128 = 0x7b;

/** Core opcodes used by the generated code. */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  get: (local: number) => [0x20, ...uleb(local)],
  set: (local: number) => [0x21, ...uleb(local)],
  tee: (local: number) => [0x22, ...uleb(local)],
  i32: (value: number) => [0x41, ...sleb(value)],
  i32Eqz: [0x45],
  i32GeU: [0x4f],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32And: [0x71],
  i32Or: [0x72],
  i32Shl: [0x74],
  i32ShrU: [0x76],
  /** Loads and stores at the address on the stack plus `offset`. */
  i32Load: (offset: number) => [0x28, 2, ...uleb(offset)],
  i32Load8U: (offset: number) => [0x2d, 0, ...uleb(offset)],
  i32Store: (offset: number) => [0x36, 2, ...uleb(offset)],
};

/** SIMD opcodes: the 0xfd prefix, then the opcode as LEB128, then immediates. */
const simd = (code: number, ...imm: number[]) => [0xfd, ...uleb(code), ...imm];
export const v128 = {
  /** 16-byte load/store at the address on the stack plus `offset` (alignment hint 2^4). */
  load: (offset: number) => simd(0x00, 4, ...uleb(offset)),
  store: (offset: number) => simd(0x0b, 4, ...uleb(offset)),
  /** Lanes of i32x4 taken from the two operands (0-3 the first, 4-7 the second). */
  shuffle32: (lanes: number[]) => simd(0x0d, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])),
  splat32: simd(0x11),
  or: simd(0x50),
  xor: simd(0x51),
  /** (v1 & c) | (v2 & ~c) for operands v1, v2, c. */
  bitselect: simd(0x52),
  shl32: simd(0xab),
  shrU32: simd(0xad),
  add32: simd(0xae),
  /** 16 bytes (first to last) as a constant. */
  const: (bytes: number[]) => simd(0x0c, ...bytes),
  /** i16x8 lanes: sums of adjacent unsigned bytes. */
  pairSums8: simd(0x7d),
  /** The low or high 8 unsigned bytes as i16x8 lanes. */
  widenLow8: simd(0x89),
  widenHigh8: simd(0x8a),
  add16: simd(0x8e),
  mul16: simd(0x95),
};

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(text: string): number[] {
  const bytes = [...Buffer.from(text, 'utf8')];
  return [...uleb(bytes.length), ...bytes];
}

/**
 * A module exporting `memory` (min `pages` of 64 KiB) and one function `fnName` with `params`
 * i32 parameters, an i32 result when `result` (else none), and the given locals ([count, type]
 * runs) and body.
 */
export function moduleOfOneFunction(spec: {
  fnName: string;
  params: number;
  result?: boolean;
  locals: [number, number][];
  body: number[];
  pages: number;
}): Uint8Array<ArrayBuffer> {
  const results = spec.result ? [1, I32] : [0];
  const type = [0x60, ...uleb(spec.params), ...Array<number>(spec.params).fill(I32), ...results];
  const locals = [...uleb(spec.locals.length), ...spec.locals.flatMap(([count, t]) => [...uleb(count), t])];
  const code = [...locals, ...spec.body, ...op.end];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, [1, ...type]), // types
    ...section(3, [1, 0]), // functions: one, of type 0
    ...section(5, [1, 0x00, ...uleb(spec.pages)]), // memories: one, no maximum
    ...section(7, [2, ...name(spec.fnName), 0x00, 0, ...name('memory'), 0x02, 0]), // exports
    ...section(10, [1, ...uleb(code.length), ...code]), // code
  ]);
}
