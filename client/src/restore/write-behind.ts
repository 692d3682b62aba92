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
 *
 * Where the stage addon is built (native/stage.ts), each piece's writeback starts once it is
 * written, and the piece before it is waited for and dropped from the page cache; idle() does
 * the same for the last piece. A restore then holds a few MiB of its big files in memory, not
 * all of them: it does not push out what the machine it runs on has cached, and the kernel
 * reuses the same pages (see client/native/stage.c). Elsewhere node:fs writes, and the kernel
 * keeps what it will.
 */
import { write } from 'node:fs';
import { stageAddon, type StageAddon } from '../native/stage.js';

const SLOT = 1024 * 1024;
const NOTHING = new Uint8Array(0);

type WriteOut = NonNullable<StageAddon['writeOut']>;

export class WriteBehind {
  private filling = Buffer.allocUnsafeSlow(SLOT);
  private spare = Buffer.allocUnsafeSlow(SLOT);
  /** What `filling` holds: `used` bytes for `fd` from `pos`. */
  private fd = -1;
  private pos = 0;
  private used = 0;
  private inFlight: Promise<void> | undefined;
  private failed: Error | undefined;
  private readonly writeOut: WriteOut | undefined;
  /** The file written since the last idle(): where its bytes not yet settled start, where they end. */
  private last = { fd: -1, unsettled: -1, end: 0 };

  constructor() {
    const addon = stageAddon();
    this.writeOut = addon?.writeOut?.bind(addon);
  }

  /** Queue `data` for `fd` at `pos`; `data` may be reused once this returns. */
  async write(fd: number, data: Buffer, pos: number): Promise<void> {
    if (this.used > 0 && (fd !== this.fd || pos !== this.pos + this.used)) await this.submit(false);
    let at = 0;
    while (at < data.length) {
      if (this.used === 0) {
        this.fd = fd;
        this.pos = pos + at;
      }
      const n = data.copy(this.filling, this.used, at);
      this.used += n;
      at += n;
      if (this.used === SLOT) await this.submit(false);
    }
  }

  /** Every queued write done (and settled: see above); throws the first error of any. */
  async idle(): Promise<void> {
    if (this.used > 0) await this.submit(true);
    else if (this.writeOut && this.last.unsettled >= 0) {
      await this.inFlight;
      this.throwIfFailed();
      const { fd, unsettled, end } = this.last;
      this.inFlight = this.pieceOut(fd, NOTHING, 0, end, unsettled, end);
    }
    this.last = { fd: -1, unsettled: -1, end: 0 };
    await this.inFlight;
    this.throwIfFailed();
  }

  /** Failure elsewhere: wait for the write under way, drop what is queued. */
  async abandon(): Promise<void> {
    this.used = 0;
    this.last = { fd: -1, unsettled: -1, end: 0 };
    await this.inFlight?.catch(() => {});
  }

  /** Start writing `filling` once the write before it is done (the buffers swap); `last`: settle it too. */
  private async submit(last: boolean): Promise<void> {
    await this.inFlight;
    this.throwIfFailed();
    const [buf, fd, pos, len] = [this.filling, this.fd, this.pos, this.used];
    this.filling = this.spare;
    this.spare = buf;
    this.used = 0;
    if (!this.writeOut) {
      this.inFlight = writeAll(fd, buf, len, pos).catch((err: Error) => void (this.failed = err));
      return;
    }
    // what this file's pieces before wrote, unless it went back (then those pages stay)
    const before = this.last.fd === fd && this.last.unsettled >= 0 && this.last.unsettled <= pos;
    const from = before ? this.last.unsettled : last ? pos : -1;
    const to = last ? pos + len : pos;
    this.last = last ? { fd: -1, unsettled: -1, end: 0 } : { fd, unsettled: pos, end: pos + len };
    this.inFlight = this.pieceOut(fd, buf, len, pos, from, to);
  }

  private pieceOut(fd: number, buf: Uint8Array, len: number, pos: number, from: number, to: number): Promise<void> {
    return new Promise<void>((resolve, reject) =>
      this.writeOut!(fd, buf, len, pos, from, to, (err) => (err ? reject(err) : resolve())),
    ).catch((err: Error) => void (this.failed = err));
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
