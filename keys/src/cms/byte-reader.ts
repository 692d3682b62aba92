/**
 * Pull-style reader over an async source of Buffers: the CMS parser asks for exactly the bytes
 * it needs, and large contents pass through in the source's own chunks (no copy, no buffering
 * beyond one chunk).
 */
export class TruncatedError extends Error {}

export class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  /** Bytes consumed so far (offsets for definite-length checks and messages). */
  position = 0;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async fill(): Promise<boolean> {
    while (!this.ended) {
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as Uint8Array);
      if (chunk.length === 0) continue;
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      return true;
    }
    return false;
  }

  /** True when the input has ended and everything was consumed. */
  async atEnd(): Promise<boolean> {
    return this.buffered === 0 && !(await this.fill());
  }

  /**
   * Exactly n bytes; TruncatedError naming `what` when the input ends first. Within one chunk a
   * slice of it; across chunks a copy, made as each arrives: a source may reuse its buffers
   * (restore/dir-source.ts), so no chunk is held while the next ones are asked for.
   */
  async read(n: number, what: string): Promise<Buffer> {
    if (n > 0 && this.buffered === 0) await this.fill();
    const first = this.chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      this.position += n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      if (this.buffered === 0 && !(await this.fill()))
        throw new TruncatedError(`input ends inside ${what} (at byte ${this.position + filled})`);
      const c = this.chunks[0]!;
      const take = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, take);
      filled += take;
      this.buffered -= take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    this.position += n;
    return out;
  }

  /** Between 1 and max bytes, whatever is at hand (for streaming large contents). */
  async readSome(max: number, what: string): Promise<Buffer> {
    if (this.buffered === 0 && !(await this.fill()))
      throw new TruncatedError(`input ends inside ${what} (at byte ${this.position})`);
    const first = this.chunks[0]!;
    return this.read(Math.min(max, first.length), what);
  }

  /** Discard n bytes. */
  async skip(n: number, what: string): Promise<void> {
    let left = n;
    while (left > 0) left -= (await this.readSome(left, what)).length;
  }
}
