/**
 * A librsync signature built incrementally from file chunks, synchronously, with one shared
 * strong-sum function that writes in place: a backup signs thousands of small files, and a
 * stream plus a fresh hasher per file would cost more than the hashing. Byte-identical to createSignatureStream.
 */
import { checkParams, type SignatureParams } from '../rsync/magic.js';
import type { Signature } from '../rsync/read-signature.js';
import { recordWriter, signatureHeader, type RecordWriter } from '../rsync/signature.js';
import type { StrongBlocks } from '../rsync/strongsum.js';

export class SignatureBuilder {
  private readonly write: RecordWriter;
  private readonly recordLen: number;
  private readonly block: Uint8Array;
  private filled = 0;
  private out: Buffer;
  private len = 12;
  private readonly parts: Buffer[] = [];
  private total = 0;

  /**
   * `withHeader` false: records only (a later range of a file signed in pieces).
   * `expectedBytes`: the output size when known, so exactly that is allocated (a backup signs
   * thousands of small files: a 64 KiB buffer each would be mostly garbage).
   */
  constructor(params: SignatureParams, strong: StrongBlocks, withHeader = true, expectedBytes?: number) {
    checkParams(params);
    this.write = recordWriter(params, strong);
    this.recordLen = 4 + params.strongLen;
    this.block = new Uint8Array(params.blockLen);
    this.out = Buffer.allocUnsafe(Math.max(12 + this.recordLen, Math.min(expectedBytes ?? 64 * 1024, 1 << 20)));
    if (withHeader) signatureHeader(params).copy(this.out, 0);
    else this.len = 0;
  }

  /** Room for one more record in `out`. */
  private reserve(): void {
    if (this.len + this.recordLen <= this.out.length) return;
    this.parts.push(this.out.subarray(0, this.len));
    this.total += this.len;
    this.out = Buffer.allocUnsafe(this.out.length);
    this.len = 0;
  }

  /** Records of `count` blocks of `blockLen` bytes from data[start]. */
  private records(data: Uint8Array, start: number, count: number, blockLen: number): void {
    while (count > 0) {
      this.reserve();
      const fit = Math.min(count, Math.floor((this.out.length - this.len) / this.recordLen));
      this.write(data, start, fit, blockLen, this.out, this.len);
      this.len += fit * this.recordLen;
      start += fit * blockLen;
      count -= fit;
    }
  }

  /**
   * Like update, for data that starts on a block boundary, but block i's record is taken from
   * `stored` when reuse[i] names one of its blocks: a delta scan found that block there, with
   * equal weak and (truncated) strong sums, so its record is this block's record too; no second
   * MD4 of the same bytes. `stored` must have this builder's parameters (the caller checks).
   * Its last block may be short, so that record is never reused.
   */
  updateReusing(data: Uint8Array, reuse: Int32Array, stored: Signature): void {
    if (this.filled > 0) throw new Error('internal: updateReusing after a partial block');
    const n = this.block.length;
    const strongLen = this.recordLen - 4;
    const lastStored = stored.count - 1;
    const whole = Math.floor(data.length / n);
    const reused = (b: number) => reuse[b]! >= 0 && reuse[b] !== lastStored;
    for (let b = 0; b < whole;) {
      if (!reused(b)) {
        // a run of blocks to hash: one call, so MD4 takes them four at a time
        let e = b + 1;
        while (e < whole && !reused(e)) e++;
        this.records(data, b * n, e - b, n);
        b = e;
        continue;
      }
      const j = reuse[b++]!;
      this.reserve();
      this.out.writeUInt32BE(stored.weak[j]!, this.len);
      this.out.set(stored.strong.subarray(j * strongLen, (j + 1) * strongLen), this.len + 4);
      this.len += this.recordLen;
    }
    if (whole * n < data.length) this.update(data.subarray(whole * n));
  }

  update(chunk: Uint8Array): void {
    const n = this.block.length;
    let i = 0;
    if (this.filled > 0) {
      const take = Math.min(n - this.filled, chunk.length);
      this.block.set(chunk.subarray(0, take), this.filled);
      this.filled += take;
      i = take;
      if (this.filled < n) return;
      this.records(this.block, 0, 1, n);
      this.filled = 0;
    }
    const whole = Math.floor((chunk.length - i) / n);
    this.records(chunk, i, whole, n);
    i += whole * n;
    if (i < chunk.length) {
      this.block.set(chunk.subarray(i), 0);
      this.filled = chunk.length - i;
    }
  }

  /** The whole signature (header + records). */
  finish(): Buffer {
    if (this.filled > 0) this.records(this.block, 0, 1, this.filled);
    this.filled = 0;
    this.parts.push(this.out.subarray(0, this.len));
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.total + this.len);
  }
}
