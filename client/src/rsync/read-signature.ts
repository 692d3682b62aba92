import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { DeaddropError } from '@deaddrop/common/errors';
import { checkParams, type SignatureParams } from './magic.js';
import { MAX_INDEXED_BLOCKS } from './sum-index.js';

/** A loaded signature: per-block weak sums and truncated strong sums, plus a weak-sum hash index. */
export interface Signature extends SignatureParams {
  count: number;
  weak: Uint32Array;
  /** count * strongLen bytes. */
  strong: Uint8Array;
}

/** Parses (and validates) a librsync signature from bytes or a stream. */
export async function readSignature(input: Uint8Array | Readable, what = 'signature'): Promise<Signature> {
  if (input instanceof Uint8Array) return parseSignature(input, what);
  const reader = new SignatureReader(what);
  for await (const chunk of input as AsyncIterable<Buffer>) reader.push(chunk);
  return reader.finish();
}

/** Parses (and validates) a librsync signature held in memory. */
export function parseSignature(bytes: Uint8Array, what = 'signature'): Signature {
  const reader = new SignatureReader(what, bytes.length);
  reader.push(bytes);
  return reader.finish();
}

/**
 * Reads a signature file into tables on SharedArrayBuffers (worker threads use them without a
 * copy), 64 KiB at a time: the file itself is never held whole.
 */
export function readSharedSignature(path: string): Signature {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    const reader = new SignatureReader(path, st.isFile() ? st.size : undefined, true);
    const chunk = new Uint8Array(64 * 1024);
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0;) reader.push(chunk.subarray(0, n));
    return reader.finish();
  } finally {
    closeSync(fd);
  }
}

class SignatureReader {
  private header = new Uint8Array(12);
  private headerLen = 0;
  private params: SignatureParams | undefined;
  private record: Uint8Array = new Uint8Array(0);
  private recordFill = 0;
  private count = 0;
  private weak: Uint32Array<ArrayBufferLike>;
  private strong: Uint8Array<ArrayBufferLike> = new Uint8Array(0);

  /** `totalBytes`, when known, sizes the tables once instead of doubling them as records come. */
  constructor(
    private readonly what: string,
    private readonly totalBytes?: number,
    private readonly shared = false,
  ) {
    this.weak = new Uint32Array(totalBytes === undefined ? 1024 : 0);
  }

  private words(count: number): Uint32Array<ArrayBufferLike> {
    return this.shared ? new Uint32Array(new SharedArrayBuffer(4 * count)) : new Uint32Array(count);
  }

  private bytes(count: number): Uint8Array<ArrayBufferLike> {
    return this.shared ? new Uint8Array(new SharedArrayBuffer(count)) : new Uint8Array(count);
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    if (!this.params) {
      const take = Math.min(12 - this.headerLen, chunk.length);
      this.header.set(chunk.subarray(0, take), this.headerLen);
      this.headerLen += take;
      i = take;
      if (this.headerLen < 12) return;
      const dv = new DataView(this.header.buffer);
      const params = { magic: dv.getUint32(0), blockLen: dv.getUint32(4), strongLen: dv.getUint32(8) };
      checkParams(params, this.what);
      this.params = params;
      this.record = new Uint8Array(4 + params.strongLen);
      if (this.totalBytes !== undefined) {
        const count = Math.max(0, Math.ceil((this.totalBytes - 12) / this.record.length));
        this.weak = this.words(count);
      }
      this.strong = this.bytes(this.weak.length * params.strongLen);
    }
    const rec = this.record;
    while (i < chunk.length) {
      // whole records straight from the chunk: a subarray per record made this ~3x slower
      if (this.recordFill === 0 && (i = this.addRecordsFrom(chunk, i)) === chunk.length) break;
      const take = Math.min(rec.length - this.recordFill, chunk.length - i);
      rec.set(chunk.subarray(i, i + take), this.recordFill);
      this.recordFill += take;
      i += take;
      if (this.recordFill === rec.length) {
        this.addRecordsFrom(rec, 0);
        this.recordFill = 0;
      }
    }
  }

  /** Adds every whole record in chunk from offset i on; returns the offset after the last. */
  private addRecordsFrom(chunk: Uint8Array, i: number): number {
    const sl = this.params!.strongLen;
    const recLen = 4 + sl;
    const whole = Math.floor((chunk.length - i) / recLen);
    if (this.count + whole > MAX_INDEXED_BLOCKS)
      throw new DeaddropError(
        `${this.what}: more than ${MAX_INDEXED_BLOCKS} blocks, too many to index (make it with a larger block length)`,
      );
    if (this.count + whole > this.weak.length) this.grow(this.count + whole);
    const { weak, strong } = this;
    for (let r = 0; r < whole; r++, i += recLen) {
      weak[this.count] = ((chunk[i]! << 24) | (chunk[i + 1]! << 16) | (chunk[i + 2]! << 8) | chunk[i + 3]!) >>> 0;
      const at = this.count * sl;
      for (let k = 0; k < sl; k++) strong[at + k] = chunk[i + 4 + k]!;
      this.count++;
    }
    return i;
  }

  /** Room for at least `count` records (doubling). */
  private grow(count: number): void {
    const sl = this.params!.strongLen;
    const w = this.words(Math.max(1024, this.weak.length * 2, count));
    w.set(this.weak);
    this.weak = w;
    const s = this.bytes(w.length * sl);
    s.set(this.strong);
    this.strong = s;
  }

  finish(): Signature {
    if (!this.params) throw new DeaddropError(`${this.what}: truncated header (${this.headerLen} of 12 bytes)`);
    if (this.recordFill !== 0)
      throw new DeaddropError(
        `${this.what}: truncated block record ${this.count} (${this.recordFill} of ${this.record.length} bytes)`,
      );
    return {
      ...this.params,
      count: this.count,
      weak: this.weak.subarray(0, this.count),
      strong: this.strong.subarray(0, this.count * this.params.strongLen),
    };
  }
}
