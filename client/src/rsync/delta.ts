import { Transform, type TransformCallback } from 'node:stream';
import { noteAllocated } from '@deaddrop/common/young-gc';
import { DeltaEmitter } from './delta-emitter.js';
import { strongKindOf, weakKindOf } from './magic.js';
import { md4LanesFor } from './md4-lanes.js';
import type { Signature } from './read-signature.js';
import { MAX_KERNEL_BLOCK, rollKernelFor } from './roll-kernel.js';
import { createStrongBlocks, type StrongBlocks } from './strongsum.js';
import { SumIndex } from './sum-index.js';
import { RK_ADJUST, RK_MULT, ROLLSUM_OFFSET, rabinKarpOf, rabinKarpPower, rollsumOf } from './weaksum.js';

/** librsync's max_miss: literal runs are flushed at this length. */
export const MAX_LITERAL = 32768;

/** M^-1 mod 2^32 (M is odd), to take a byte out of a shrinking RabinKarp window. */
function rabinKarpInverse(): number {
  let x = RK_MULT;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(RK_MULT, x));
  return x | 0;
}
const RK_INVERSE = rabinKarpInverse();

/**
 * New file bytes in, librsync delta against `sig` out. Reads the input once; memory is the
 * signature index plus one window (≤ block length + 32 KiB of pending literal + one chunk).
 */
export function createDeltaStream(sig: Signature): Transform {
  const scanner = new DeltaScanner(sig);
  return new Transform({
    async transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        noteAllocated(chunk.length); // frees dead read buffers early: RSS stays flat
        await scanner.ready(this);
        scanner.write(chunk, false);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    async flush(cb: TransformCallback) {
      try {
        await scanner.ready(this);
        scanner.write(new Uint8Array(0), true);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}

/**
 * deltaOfRange's first output buffer, reused on this thread: most ranges' commands fit, and a
 * range then leaves no 128 KiB buffer behind for the GC (20 GiB in 1 MiB ranges: 20,000 of them).
 */
const RANGE_OUT = 128 * 1024;
let rangeOut: Buffer | undefined;

/**
 * The delta commands for new-file bytes [from, from + data.length) of a file cut into ranges
 * that are scanned independently (backup worker threads): the first range starts with the
 * magic, the last ends with END, and the ranges' commands concatenated are one valid delta.
 * A match is only looked for inside a range, so a block that straddles two ranges goes as
 * literal bytes; ranges that are whole blocks of the new file lose nothing for in-place edits
 * and appends. `index` is the signature's SumIndex, built once and reused for every range.
 * `from` (the range's offset in the new file) is the basis block tried first at the range's
 * start, as if the previous range's COPY went on: unchanged data stays one COPY once joined.
 * The result owns its ArrayBuffer, so a worker can transfer it.
 */
export function deltaOfRange(
  sig: Signature,
  index: SumIndex,
  strong: StrongBlocks,
  data: Uint8Array,
  range: {
    first: boolean;
    last: boolean;
    from?: number;
    /** Filled with, per whole block of `data`, the basis block that matched it exactly there (else left as is). */
    matched?: Int32Array;
  },
): Uint8Array {
  const out: Buffer[] = [];
  const scanner = new DeltaScanner(sig, index, range.from, range.matched);
  rangeOut ??= Buffer.allocUnsafe(RANGE_OUT);
  scanner.start(strong, new DeltaEmitter((c) => out.push(c), RANGE_OUT, range.first, rangeOut));
  scanner.writeAll(data, range.last);
  const all = out.length === 1 ? out[0]! : Buffer.concat(out);
  // a view of rangeOut, or of Node's shared pool slab (small concat), is copied
  return all.byteOffset === 0 && all.byteLength === all.buffer.byteLength ? all : Uint8Array.from(all);
}

class DeltaScanner {
  private readonly index: SumIndex;
  private readonly n: number;
  private readonly rollsum: boolean;
  private readonly rkPow: number;
  private strong: StrongBlocks | undefined;
  /** Blocks whose strong sums are computed together (MD4: four lanes; see matchBlock). */
  private readonly lanes: number;
  /** Strong sums of sumsCount blocks from buffer position sumsAt (32 bytes each), or none. */
  private readonly sums = new Uint8Array(4 * 32);
  /** With rollsum signatures: the same blocks' rollsums (the window after a match is one). */
  private readonly rollsums: Uint32Array | undefined;
  /**
   * After a COPY, whether the block that would continue it is tried by its strong sum alone.
   * The weak sum only spares strong sums of windows that cannot match; that block's strong sum
   * is computed anyway, and where the weak sum does not come with it (RabinKarp, or BLAKE2b)
   * computing the weak sum of every copied block cost as much as hashing it. Only for strong
   * sums of 16 bytes or more (rdiff's default is 32): a chance match of those is out of reach,
   * so the weak sum's 4 bytes add nothing, and the delta is the one the weak sum would give.
   */
  private readonly strongOnly: boolean;
  private sumsAt = 0;
  private sumsCount = 0;
  /** Bumped whenever bytes move in buf: a RollKernel's copy of them is then stale. */
  readonly rollWindow = { generation: 0 };
  private emit: DeltaEmitter | undefined;
  private buf: Uint8Array = new Uint8Array(0);
  private p = 0; // window start
  private lit = 0; // start of the pending literal run
  private end = 0; // end of buffered data
  private valid = false; // s1/s2 (rollsum) or h (RabinKarp) describe buf[p, p + n)
  private s1 = 0;
  private s2 = 0;
  private h = 0;

  constructor(
    private readonly sig: Signature,
    index?: SumIndex,
    /** The basis offset a COPY at buffer position 0 would continue (ranges: their file offset). */
    private readonly continuesAt = -1,
    /** See deltaOfRange; only with writeAll (buffer positions are then data positions). */
    private readonly matched?: Int32Array,
  ) {
    this.index = index ?? new SumIndex(sig);
    this.n = sig.blockLen;
    this.rollsum = weakKindOf(sig.magic) === 'rollsum';
    this.rkPow = rabinKarpPower(sig.blockLen);
    this.lanes = strongKindOf(sig.magic) === 'md4' && md4LanesFor(sig.blockLen) ? 4 : 1;
    if (this.rollsum && this.lanes > 1) this.rollsums = new Uint32Array(4);
    this.strongOnly = !this.rollsums && sig.strongLen >= 16;
  }

  async ready(stream: Transform): Promise<void> {
    if (!this.emit) this.start(await createStrongBlocks(this.sig.magic), new DeltaEmitter((c) => stream.push(c)));
  }

  start(strong: StrongBlocks, emit: DeltaEmitter): void {
    this.strong = strong;
    this.emit = emit;
  }

  /**
   * `final`: no more data for this scanner. `eof`: and the new file ends here, so the
   * signature's short last block may match the tail and END closes the delta.
   */
  write(chunk: Uint8Array, final: boolean, eof = final): void {
    this.append(chunk);
    this.scan();
    if (final) {
      if (eof) this.scanTail();
      this.emit!.literal(this.buf, this.lit, this.end);
      this.lit = this.end;
      this.emit!.end(eof);
    } else this.emit!.flush();
  }

  /** All the data there will be, scanned where it is (not copied). */
  writeAll(data: Uint8Array, eof: boolean): void {
    this.buf = data;
    this.sumsCount = 0;
    this.rollWindow.generation++;
    this.p = this.lit = 0;
    this.end = data.length;
    this.valid = false;
    this.write(new Uint8Array(0), true, eof);
  }

  /** Keeps buf[lit, end) and adds the chunk, compacting or growing the buffer. */
  private append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.sumsCount = 0; // positions move
    this.rollWindow.generation++;
    const keep = this.end - this.lit;
    if (this.end + chunk.length > this.buf.length) {
      const need = keep + chunk.length;
      const target = need > this.buf.length ? new Uint8Array(Math.max(need, 2 * this.buf.length)) : this.buf;
      if (target === this.buf) this.buf.copyWithin(0, this.lit, this.end);
      else target.set(this.buf.subarray(this.lit, this.end), 0);
      this.buf = target;
      this.p -= this.lit;
      this.end = keep;
      this.lit = 0;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  private computeWindow(start: number, len: number): void {
    if (this.rollsum) {
      // only s1, s2 mod 2^16 matter for rolling and the digest
      const w = this.rollsums ? this.rollsumFromLanes(start, len) : rollsumOf(this.buf, start, start + len);
      this.s1 = w & 0xffff;
      this.s2 = w >>> 16;
    } else this.h = rabinKarpOf(this.buf, start, start + len) | 0;
    this.valid = true;
  }

  /** The rollsum of buf[start, start + len), from the blocks hashed together when it is one. */
  private rollsumFromLanes(start: number, len: number): number {
    let k = this.cachedLane(start, len);
    // in a run of matches the next block most likely matches too: hash it with the next three
    // now, and its rollsum comes with them (unless it is the last whole block: hashed alone,
    // it gets no rollsum)
    if (k < 0 && len === this.n && this.emit!.pendingCopyEnd >= 0) {
      this.strongSumAt(start, len);
      k = this.cachedLane(start, len);
    }
    return k >= 0 ? this.rollsums![k]! : rollsumOf(this.buf, start, start + len);
  }

  /** Full-window scan: roll byte by byte until a match or the buffered data runs out. */
  private scan(): void {
    const n = this.n;
    const buf = this.buf;
    const { head, next, filter, filterShift } = this.index;
    const weakArr = this.sig.weak;
    const shift = this.index.shift;
    const rollsum = this.rollsum;
    const rkPow = this.rkPow;
    let p = this.p;
    let lit = this.lit;
    const end = this.end;
    let s1 = this.s1;
    let s2 = this.s2;
    let h = this.h;
    let valid = this.valid;
    while (p + n <= end) {
      let block = -1;
      if (!valid) {
        if (this.strongOnly && p === lit) block = this.continuedByStrongSum(p);
        if (block < 0) {
          this.computeWindow(p, n);
          s1 = this.s1;
          s2 = this.s2;
          h = this.h;
          valid = true;
        }
      }
      if (block < 0) {
        const w = rollsum ? (((s2 & 0xffff) << 16) | (s1 & 0xffff)) >>> 0 : h >>> 0;
        // right after a match, the block after the one copied is tried before the index (whose
        // tables are too big for the cache: a lookup there is a cache miss or two)
        let candidate = p === lit ? this.expectedBlock(p) : -1;
        if (candidate < 0 || weakArr[candidate] !== w) {
          const hash = Math.imul(w, 0x9e3779b1);
          const f = hash >>> filterShift;
          candidate = (filter[f >>> 5]! >>> (f & 31)) & 1 ? head[hash >>> shift]! : -1;
          while (candidate >= 0 && weakArr[candidate] !== w) candidate = next[candidate]!;
        }
        if (candidate >= 0) block = this.matchBlock(w, candidate, p, n);
      }
      if (block >= 0) {
        if (this.matched && p % n === 0) this.matched[p / n] = block;
        this.emit!.literal(buf, lit, p);
        this.emit!.copy(block * n, n);
        p += n;
        lit = p;
        valid = false;
        continue;
      }
      if (p + n >= end) break; // need more data to roll
      // No block starts at p. Roll on in a tight loop to where the filter says one may, or to
      // where the literal run must be flushed: in WebAssembly (roll-kernel.ts), else in one of
      // the loops below (one per weak sum: V8 keeps each lean). It skips only what the checks
      // above would skip: past p, p !== lit, so no expected block.
      const stop = Math.min(end - n, lit + MAX_LITERAL);
      const kernel = n <= MAX_KERNEL_BLOCK ? rollKernelFor(filter) : null;
      if (kernel) {
        p = kernel.roll(this, buf, p, stop, n, rollsum, rollsum ? s1 : h, s2, rkPow, filter, filterShift);
        if (rollsum) {
          s1 = kernel.s1;
          s2 = kernel.s2;
        } else h = kernel.s1;
      } else if (rollsum) {
        for (;;) {
          const out = buf[p]!;
          s1 = (s1 + buf[p + n]! - out) | 0;
          s2 = (s2 + s1 - n * (out + ROLLSUM_OFFSET)) | 0;
          if (++p >= stop) break;
          const f = Math.imul(((s2 & 0xffff) << 16) | (s1 & 0xffff), 0x9e3779b1) >>> filterShift;
          if ((filter[f >>> 5]! >>> (f & 31)) & 1) break;
        }
      } else {
        for (;;) {
          h = (Math.imul(h, RK_MULT) + buf[p + n]! - Math.imul(rkPow, buf[p]! + RK_ADJUST)) | 0;
          if (++p >= stop) break;
          const f = Math.imul(h, 0x9e3779b1) >>> filterShift;
          if ((filter[f >>> 5]! >>> (f & 31)) & 1) break;
        }
      }
      if (p - lit >= MAX_LITERAL) {
        this.emit!.literal(buf, lit, p);
        lit = p;
      }
    }
    this.p = p;
    this.lit = lit;
    this.s1 = s1;
    this.s2 = s2;
    this.h = h;
    this.valid = valid;
  }

  /**
   * The block whose weak and strong sums match buf[p, p + len), or -1. Prefers the block that
   * continues the pending COPY, so repeated blocks still merge into one command.
   */
  private matchBlock(w: number, candidate: number, p: number, len: number): number {
    const sum = this.sums;
    const at = this.strongSumAt(p, len);
    const { weak } = this.sig;
    const expected = this.expectedBlock(p);
    if (expected >= 0 && weak[expected] === w && this.index.strongEquals(expected, sum, at)) return expected;
    // the candidate came from the index, or was the expected block: then look in the index
    let j = candidate === expected ? this.index.head[this.index.bucket(w)]! : candidate;
    for (; j >= 0; j = this.index.next[j]!) {
      if (weak[j] === w && this.index.strongEquals(j, sum, at)) return j;
    }
    return -1;
  }

  /**
   * The block that would continue the pending COPY at buffer position p, if buf[p, p + n) has
   * its strong sum; else -1. See strongOnly. The signature's last block may be short, and only
   * the weak sum (over the window's length) tells that apart: it is left to the usual path.
   */
  private continuedByStrongSum(p: number): number {
    const expected = this.expectedBlock(p);
    if (expected < 0 || expected === this.sig.count - 1) return -1;
    return this.index.strongEquals(expected, this.sums, this.strongSumAt(p, this.n)) ? expected : -1;
  }

  /**
   * The basis block that would continue the pending COPY at buffer position p, or -1. Tried
   * first, so repeated blocks still merge into one command.
   */
  private expectedBlock(p: number): number {
    const { blockLen, count } = this.sig;
    const pending = this.emit!.pendingCopyEnd;
    const cont = pending < 0 && p === 0 ? this.continuesAt : pending;
    if (cont < 0 || cont % blockLen !== 0) return -1;
    const j = cont / blockLen;
    return j < count ? j : -1;
  }

  /**
   * Where in this.sums the strong sum of buf[p, p + len) is. A block that matches is mostly
   * followed by more that match (unchanged stretches of the file), so MD4 hashes the next
   * blocks with it, four lanes for about the time of two blocks, and the scan finds them here.
   */
  private strongSumAt(p: number, len: number): number {
    const n = this.n;
    const k = this.cachedLane(p, len);
    if (k >= 0) return k * 32;
    const left = this.end - p;
    const lanes = len === n ? Math.max(1, Math.min(this.lanes, (left - (left % n)) / n)) : 1; // exact: see cachedLane
    this.strong!(this.buf, p, lanes, len, this.sums, 0, 32, this.sig.strongLen, lanes > 1 ? this.rollsums : undefined);
    this.sumsAt = p;
    this.sumsCount = len === n && lanes > 1 ? lanes : 0;
    return 0;
  }

  /** Which of the blocks last hashed together buf[p, p + len) is, or -1. */
  private cachedLane(p: number, len: number): number {
    const d = p - this.sumsAt;
    // the remainder first: a division that leaves a fraction would deoptimize the scan's
    // compiled code (V8 assumed an integer quotient) and have it compiled again
    if (len !== this.n || d < 0 || d % len !== 0) return -1;
    const k = d / len;
    return k < this.sumsCount ? k : -1;
  }

  /** At EOF the window shrinks; only the signature's last (short) block can match it. */
  private scanTail(): void {
    const { count, weak } = this.sig;
    if (count === 0 || this.p >= this.end) return;
    const last = count - 1;
    const buf = this.buf;
    let p = this.p;
    let m = this.end - p;
    this.computeWindow(p, m);
    let s1 = this.s1;
    let s2 = this.s2;
    let h = this.h;
    let pow = rabinKarpPower(m - 1);
    while (m > 0) {
      const w = this.rollsum ? (((s2 & 0xffff) << 16) | (s1 & 0xffff)) >>> 0 : h >>> 0;
      if (w === weak[last]) {
        const at = this.strongSumAt(p, m);
        if (this.index.strongEquals(last, this.sums, at)) {
          this.emit!.literal(buf, this.lit, p);
          this.emit!.copy(last * this.n, m);
          this.p = this.lit = this.end;
          return;
        }
      }
      const out = buf[p]!;
      if (this.rollsum) {
        s1 = (s1 - (out + ROLLSUM_OFFSET)) | 0;
        s2 = (s2 - m * (out + ROLLSUM_OFFSET)) | 0;
      } else {
        h = (h - Math.imul(pow, out + RK_ADJUST)) | 0;
        pow = Math.imul(pow, RK_INVERSE);
      }
      p++;
      m--;
      if (p - this.lit >= MAX_LITERAL) {
        this.emit!.literal(buf, this.lit, p);
        this.lit = p;
      }
    }
    this.p = p;
  }
}
