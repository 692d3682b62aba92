/**
 * A few buffers of one size handed out in turn, for data its reader is done with a few chunks
 * later: a stream that reuses them makes no garbage (a new Buffer per chunk held across
 * scavenges lives until a full GC). The restore reads, decrypts and inflates into rings.
 */
export class BufferRing {
  private readonly buffers: Buffer[];
  private at = 0;

  constructor(count: number, size: number) {
    this.buffers = Array.from({ length: count }, () => Buffer.allocUnsafeSlow(size));
  }

  /** The buffer to fill now: the same one until advance(). */
  get current(): Buffer {
    return this.buffers[this.at % this.buffers.length]!;
  }

  /** The current buffer is given out; the next one is filled from now on. */
  advance(): void {
    this.at++;
  }

  /** The current buffer, and advance(). */
  take(): Buffer {
    const b = this.current;
    this.advance();
    return b;
  }
}
