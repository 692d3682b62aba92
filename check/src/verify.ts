/** Per-file integrity without the key: SHA-256 (--deep) and the CMS framing walk (both modes). */
import { open } from 'node:fs/promises';
import { formatBytes } from '@deaddrop/common/units';
import { hashFile } from '@deaddrop/common/hash';
import { noteAllocated } from '@deaddrop/common/young-gc';
import { checkFraming, FrameWalker, looksLikeBer, type FrameResult } from './ber.js';

export interface FileCheck {
  /** --deep only. */
  sha256?: string;
  /** undefined when the file is not BER (plain, gzip, OpenPGP). */
  framing?: FrameResult;
}

/** Progress on a TTY: one rewritten stderr line, at most a few times a second. */
export class Progress {
  private done = 0;
  private last = 0;
  private readonly enabled: boolean;
  constructor(private readonly total: number) {
    this.enabled = Boolean(process.stderr.isTTY) && total > 0;
  }
  tick(label: string, fileDone: number, delta: number): void {
    this.done += delta;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 250) return;
    this.last = now;
    const pct = ((this.done / this.total) * 100).toFixed(1);
    process.stderr.write(
      `\r\x1b[Kchecking ${pct}% ${formatBytes(this.done)}/${formatBytes(this.total)} ${label} ${formatBytes(fileDone)}`,
    );
  }
  end(): void {
    if (this.enabled) process.stderr.write('\r\x1b[K');
  }
}

async function firstByte(path: string): Promise<number | undefined> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(1);
    const { bytesRead } = await fh.read(b, 0, 1, 0);
    return bytesRead ? b[0] : undefined;
  } finally {
    await fh.close();
  }
}

/**
 * Check one file. `mayBeBer`: its name says CMS (`.p7m`) or legacy gpgsm (`.gpg`, sniffed: an
 * OpenPGP file is left alone). `mustBeBer` (`.p7m`): a file that does not open a SEQUENCE is
 * `invalid`, an empty one `truncated`, in --quick too. --deep reads the file once for both the
 * hash and the walk.
 */
export async function checkFile(
  path: string,
  opts: { deep: boolean; mayBeBer: boolean; mustBeBer?: boolean; label?: string; progress?: Progress },
): Promise<FileCheck> {
  const sniff = opts.mayBeBer || opts.mustBeBer === true;
  // every file is opened, sniffed or not: one the restore could not read must not pass
  const first = await firstByte(path);
  const ber = sniff && looksLikeBer(first);
  const notBer: FileCheck = opts.mustBeBer && !ber ? { framing: first === undefined ? 'truncated' : 'invalid' } : {};
  if (!opts.deep) return ber ? { framing: checkFraming(path) } : notBer;
  const walker = ber ? new FrameWalker() : undefined;
  let prev = 0;
  const { hex } = await hashFile(path, {
    onChunk: walker ? (c) => walker.update(c) : undefined,
    onProgress: (n) => {
      // each read leaves small promise objects behind: a scavenge every 32 MiB read keeps the
      // young generation from growing (measured: ~10 MiB less peak RSS, no speed cost)
      noteAllocated((n - prev) >> 4);
      opts.progress?.tick(opts.label ?? path, n, n - prev);
      prev = n;
    },
  });
  return walker ? { sha256: hex, framing: walker.result() } : { ...notBer, sha256: hex };
}
