import { DeaddropError } from '@deaddrop/common/errors';
import type { Signature } from './read-signature.js';

/**
 * Most blocks a signature may have: the hash table's size is the next power of two above twice
 * the count, as an Int32Array index (2^30 at most). A 1 TiB file in 2 KiB blocks has 2^29.
 */
export const MAX_INDEXED_BLOCKS = 2 ** 29;

/** The index's arrays; on SharedArrayBuffers they serve every thread of a parallel delta. */
export interface SumIndexTables {
  head: Int32Array<ArrayBufferLike>;
  next: Int32Array<ArrayBufferLike>;
  shift: number;
  /** One bit per finer bucket (the hash's top 32 - filterShift bits): set where a block is. */
  filter: Int32Array<ArrayBufferLike>;
  filterShift: number;
}

/**
 * Weak-sum hash index over a signature's blocks (chained, typed arrays: ~12 bytes per block).
 * Blocks with the same weak and strong sum as an earlier one are left out, so runs of identical
 * blocks (zeros) do not make long chains. A delta looks up every byte position of changed data,
 * and `head` (4 bytes a bucket) is too big for the CPU cache; `filter` (a bit per bucket, 16
 * times finer, at most 64 KiB) answers most of those lookups "no block here" first. Each "maybe"
 * takes the scan out of its rolling loop: at 4 times finer, 1 bit in 8 was set and ~10% of
 * the bytes of changed data stopped it; at 16, at most 1 in 32.
 */
export class SumIndex {
  readonly head: Int32Array<ArrayBufferLike>;
  readonly next: Int32Array<ArrayBufferLike>;
  readonly shift: number;
  readonly filter: Int32Array<ArrayBufferLike>;
  readonly filterShift: number;

  /** `tables`: built already (by SumIndex.shared on another thread); else built here. */
  constructor(
    readonly sig: Signature,
    tables?: SumIndexTables,
  ) {
    const t = tables ?? emptyTables(sig, false);
    this.head = t.head;
    this.next = t.next;
    this.shift = t.shift;
    this.filter = t.filter;
    this.filterShift = t.filterShift;
    if (!tables) this.fill();
  }

  /** An index whose tables live in shared memory: pass `tables` to workers instead of rebuilding. */
  static shared(sig: Signature): SumIndex {
    const index = new SumIndex(sig, emptyTables(sig, true));
    index.fill();
    return index;
  }

  get tables(): SumIndexTables {
    return { head: this.head, next: this.next, shift: this.shift, filter: this.filter, filterShift: this.filterShift };
  }

  bucket(weak: number): number {
    return Math.imul(weak, 0x9e3779b1) >>> this.shift;
  }

  private fill(): void {
    const { sig } = this;
    for (let i = 0; i < sig.count; i++) {
      const b = this.bucket(sig.weak[i]!);
      if (this.findSame(b, i) >= 0) continue;
      this.next[i] = this.head[b]!;
      this.head[b] = i;
      const f = Math.imul(sig.weak[i]!, 0x9e3779b1) >>> this.filterShift;
      this.filter[f >>> 5] |= 1 << (f & 31);
    }
  }

  private findSame(b: number, i: number): number {
    const { weak, strong, strongLen } = this.sig;
    for (let j = this.head[b]!; j >= 0; j = this.next[j]!) {
      if (weak[j] !== weak[i]) continue;
      if (this.strongEquals(j, strong, i * strongLen)) return j;
    }
    return -1;
  }

  /** True when block j's stored strong sum equals sum[off, off + strongLen). */
  strongEquals(j: number, sum: Uint8Array, off = 0): boolean {
    const { strong, strongLen } = this.sig;
    const base = j * strongLen;
    for (let k = 0; k < strongLen; k++) if (strong[base + k] !== sum[off + k]) return false;
    return true;
  }
}

function emptyTables(sig: Signature, shared: boolean): SumIndexTables {
  if (sig.count > MAX_INDEXED_BLOCKS)
    throw new DeaddropError(
      `signature of ${sig.count} blocks: more than ${MAX_INDEXED_BLOCKS} (make it with a larger block length)`,
    );
  let bits = 4;
  while (1 << bits < sig.count * 2) bits++;
  const ints = (n: number) => (shared ? new Int32Array(new SharedArrayBuffer(4 * n)) : new Int32Array(n)).fill(-1);
  const filterBits = Math.min(bits + 4, 19);
  const filter = ints(Math.max(1, (1 << filterBits) >>> 5)).fill(0);
  return { head: ints(1 << bits), next: ints(sig.count), shift: 32 - bits, filter, filterShift: 32 - filterBits };
}
