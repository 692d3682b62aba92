/**
 * A big file's data written on libuv's thread pool while this thread goes on decrypting,
 * inflating and parsing. The kernel's copy into the page cache is half a restore's time (perf of
 * the bench restore: `copy_folio_from_iter_atomic` 29% of all samples, under `writeSync`); here
 * it runs on the other core meanwhile.
 *
 * Double-buffered: pieces are copied into one of two buffers of 1 MiB while the other is being
 * written. Copied, not held: a chunk kept past two scavenges is promoted and waits for a full GC
 * (common/young-gc.ts); holding the chunks themselves doubled the restore's peak RSS. One write
 * at a time: several pool threads writing one file spin on its inode lock.
 */
import { write } from 'node:fs';

const SLOT = 1024 * 1024;

export class WriteBehind {
  private filling = Buffer.allocUnsafeSlow(SLOT);
  private spare = Buffer.allocUnsafeSlow(SLOT);
  /** What `filling` holds: `used` bytes for `fd` from `pos`. */
  private fd = -1;
  private pos = 0;
  private used = 0;
  private inFlight: Promise<void> | undefined;
  private failed: Error | undefined;

  /** Queue `data` for `fd` at `pos`; `data` may be reused once this returns. */
  async write(fd: number, data: Buffer, pos: number): Promise<void> {
    if (this.used > 0 && (fd !== this.fd || pos !== this.pos + this.used)) await this.submit();
    let at = 0;
    while (at < data.length) {
      if (this.used === 0) {
        this.fd = fd;
        this.pos = pos + at;
      }
      const n = data.copy(this.filling, this.used, at);
      this.used += n;
      at += n;
      if (this.used === SLOT) await this.submit();
    }
  }

  /** Every queued write done; throws the first error of any. */
  async idle(): Promise<void> {
    if (this.used > 0) await this.submit();
    await this.inFlight;
    this.throwIfFailed();
  }

  /** Failure elsewhere: wait for the write under way, drop what is queued. */
  async abandon(): Promise<void> {
    this.used = 0;
    await this.inFlight?.catch(() => {});
  }

  /** Start writing `filling` once the write before it is done (the buffers swap). */
  private async submit(): Promise<void> {
    await this.inFlight;
    this.throwIfFailed();
    const [buf, fd, pos, len] = [this.filling, this.fd, this.pos, this.used];
    this.filling = this.spare;
    this.spare = buf;
    this.used = 0;
    this.inFlight = writeAll(fd, buf, len, pos).catch((err: Error) => void (this.failed = err));
  }

  private throwIfFailed(): void {
    if (this.failed) throw this.failed;
  }
}

function writeAll(fd: number, buf: Buffer, len: number, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const from = (at: number) =>
      write(fd, buf, at, len - at, pos + at, (err, n) => {
        if (err) reject(err);
        else if (at + n < len)
          from(at + n); // a short write: the rest
        else resolve();
      });
    from(0);
  });
}
