import type { Signature } from './read-signature.js';

/**
 * Weak-sum hash index over a signature's blocks (chained, typed arrays: ~12 bytes per block).
 * Blocks with the same weak and strong sum as an earlier one are left out, so runs of identical
 * blocks (zeros) do not make long chains.
 */
export class SumIndex {
  readonly head: Int32Array;
  readonly next: Int32Array;
  readonly shift: number;

  constructor(readonly sig: Signature) {
    let bits = 4;
    while (1 << bits < sig.count * 2) bits++;
    this.shift = 32 - bits;
    this.head = new Int32Array(1 << bits).fill(-1);
    this.next = new Int32Array(sig.count).fill(-1);
    for (let i = 0; i < sig.count; i++) {
      const b = this.bucket(sig.weak[i]!);
      if (this.findSame(b, i) >= 0) continue;
      this.next[i] = this.head[b]!;
      this.head[b] = i;
    }
  }

  bucket(weak: number): number {
    return Math.imul(weak, 0x9e3779b1) >>> this.shift;
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
