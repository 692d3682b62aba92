/**
 * Pull bytes from a chunk stream: exact reads and skips without copying more than asked.
 * Memory is one source chunk plus the bytes of the current read.
 */
export class ByteReader {
  private readonly source: AsyncIterator<Buffer>;
  private chunk: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(source: AsyncIterable<Buffer | Uint8Array>) {
    this.source = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.chunk.length === 0 && !this.done) {
      const r = await this.source.next();
      if (r.done) this.done = true;
      else this.chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    }
    return this.chunk.length > 0;
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    if (n === 0) return Buffer.alloc(0);
    if (!(await this.fill())) return Buffer.alloc(0);
    if (this.chunk.length >= n) {
      const out = this.chunk.subarray(0, n);
      this.chunk = this.chunk.subarray(n);
      return out;
    }
    // copied as each chunk comes: a source may reuse its buffers (restore/gunzip.ts), so none
    // is held while the next ones are asked for
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n && (await this.fill())) {
      const take = this.chunk.copy(out, got, 0, Math.min(n - got, this.chunk.length));
      this.chunk = this.chunk.subarray(take);
      got += take;
    }
    return got < n ? out.subarray(0, got) : out;
  }

  /** Skip n bytes; returns how many were there. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0 && (await this.fill())) {
      const take = Math.min(left, this.chunk.length);
      this.chunk = this.chunk.subarray(take);
      left -= take;
    }
    return n - left;
  }

  /** Stop reading the source (closes a file stream early). */
  async close(): Promise<void> {
    if (!this.done) await this.source.return?.();
    this.done = true;
  }
}
