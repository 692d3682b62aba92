/**
 * A librsync signature built incrementally from file chunks, synchronously, with one shared
 * strong-sum function that writes in place: a backup signs thousands of small files, and a
 * stream plus a fresh hasher per file would cost more than the hashing. Byte-identical to createSignatureStream.
 */
import { checkParams, type SignatureParams } from '../rsync/magic.js';
import { recordWriter, signatureHeader, type RecordWriter } from '../rsync/signature.js';
import type { StrongInto } from '../rsync/strongsum.js';

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
  constructor(params: SignatureParams, strong: StrongInto, withHeader = true, expectedBytes?: number) {
    checkParams(params);
    this.write = recordWriter(params, strong);
    this.recordLen = 4 + params.strongLen;
    this.block = new Uint8Array(params.blockLen);
    this.out = Buffer.allocUnsafe(Math.max(12 + this.recordLen, Math.min(expectedBytes ?? 64 * 1024, 1 << 20)));
    if (withHeader) signatureHeader(params).copy(this.out, 0);
    else this.len = 0;
  }

  private record(data: Uint8Array, start: number, end: number): void {
    if (this.len + this.recordLen > this.out.length) {
      this.parts.push(this.out.subarray(0, this.len));
      this.total += this.len;
      this.out = Buffer.allocUnsafe(this.out.length);
      this.len = 0;
    }
    this.write(data, start, end, this.out, this.len);
    this.len += this.recordLen;
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
