/**
 * A librsync signature built incrementally from file chunks, synchronously, with one shared
 * strong-sum function that writes in place: a backup signs thousands of small files, and a
 * stream plus a fresh hasher per file would cost more than the hashing. Byte-identical to createSignatureStream.
 */
import { checkParams, weakKindOf, type SignatureParams } from '../rsync/magic.js';
import type { StrongInto } from '../rsync/strongsum.js';
import { rabinKarpOf, rollsumOf } from '../rsync/weaksum.js';

export class SignatureBuilder {
  private readonly weakOf: (b: Uint8Array, s: number, e: number) => number;
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
  constructor(
    private readonly params: SignatureParams,
    private readonly strong: StrongInto,
    withHeader = true,
    expectedBytes?: number,
  ) {
    checkParams(params);
    this.weakOf = weakKindOf(params.magic) === 'rollsum' ? rollsumOf : rabinKarpOf;
    this.recordLen = 4 + params.strongLen;
    this.block = new Uint8Array(params.blockLen);
    this.out = Buffer.allocUnsafe(Math.max(12 + this.recordLen, Math.min(expectedBytes ?? 64 * 1024, 1 << 20)));
    this.out.writeUInt32BE(params.magic >>> 0, 0);
    this.out.writeUInt32BE(params.blockLen, 4);
    this.out.writeUInt32BE(params.strongLen, 8);
    if (!withHeader) this.len = 0;
  }

  private record(data: Uint8Array, start: number, end: number): void {
    if (this.len + this.recordLen > this.out.length) {
      this.parts.push(this.out.subarray(0, this.len));
      this.total += this.len;
      this.out = Buffer.allocUnsafe(this.out.length);
      this.len = 0;
    }
    this.out.writeUInt32BE(this.weakOf(data, start, end), this.len);
    this.strong(data, start, end, this.out, this.len + 4, this.params.strongLen);
    this.len += this.recordLen;
  }

  update(chunk: Uint8Array): void {
    const n = this.params.blockLen;
    let i = 0;
    if (this.filled > 0) {
      const take = Math.min(n - this.filled, chunk.length);
      this.block.set(chunk.subarray(0, take), this.filled);
      this.filled += take;
      i = take;
      if (this.filled < n) return;
      this.record(this.block, 0, n);
      this.filled = 0;
    }
    for (; i + n <= chunk.length; i += n) this.record(chunk, i, i + n);
    if (i < chunk.length) {
      this.block.set(chunk.subarray(i), 0);
      this.filled = chunk.length - i;
    }
  }

  /** The whole signature (header + records). */
  finish(): Buffer {
    if (this.filled > 0) this.record(this.block, 0, this.filled);
    this.filled = 0;
    this.parts.push(this.out.subarray(0, this.len));
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.total + this.len);
  }
}
