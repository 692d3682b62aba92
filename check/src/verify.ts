/** Per-file integrity without the key: SHA-256 (--deep) and the CMS framing walk (both modes). */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { formatBytes } from '@deaddrop/common/units';
import { hashFile } from '@deaddrop/common/hash';
import { noteAllocated } from '@deaddrop/common/young-gc';
import {
  checkFraming,
  CONTENT_INFO_PREFIX,
  contentInfoShape,
  FrameWalker,
  looksLikeBer,
  type FrameResult,
} from './ber.js';

export interface FileCheck {
  /** --deep only. */
  sha256?: string;
  /**
   * The CMS walk's result, or for other files what their first bytes (and in --deep a gzip
   * file's decompression) say; undefined when nothing was checked (a plain manifest).
   */
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

/** The first `n` bytes of the file (fewer when it is shorter). */
async function head(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(n);
    const { bytesRead } = await fh.read(b, 0, n, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ARMORED_PGP = Buffer.from('-----BEGIN PGP');

/**
 * A legacy `.gpg` that is not gpgsm's CMS (checked by the walk) must still look like OpenPGP:
 * a binary packet tag has bit 7 set, an armored file opens with its BEGIN line. Anything else
 * (zeroed blocks, text) is no encrypted file at all.
 */
function looksLikeOpenPgp(start: Buffer): boolean {
  return ((start[0] ?? 0) & 0x80) !== 0 || start.subarray(0, ARMORED_PGP.length).equals(ARMORED_PGP);
}

/** Decompress the whole file: a cut or damaged gzip stream is found without a hash to compare. */
async function gunzipResult(path: string): Promise<FrameResult> {
  const discard = new Writable({ write: (_chunk, _enc, done) => done() });
  try {
    await pipeline(createReadStream(path), createGunzip(), discard);
    return 'ok';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') return 'truncated';
    if ((err as NodeJS.ErrnoException).code?.startsWith('Z_')) return 'invalid';
    throw err;
  }
}

/**
 * Check one file. `mayBeBer`: its name says CMS (`.p7m`) or legacy gpgsm (`.gpg`, sniffed: CMS
 * is walked, an OpenPGP file is left alone, anything else is `invalid`). `mustBeBer` (`.p7m`):
 * a file that does not open a SEQUENCE is `invalid`. CMS is walked only when it opens a
 * ContentInfo of EnvelopedData, else it is `invalid`. `gzip` (a plain `.gz`): it must open with
 * the gzip magic, and with 'full' (--deep) decompress to its end. An empty file is `truncated`, in --quick
 * too: no set file is ever empty. --deep reads the file once for both the hash and the walk.
 */
export async function checkFile(
  path: string,
  opts: {
    deep: boolean;
    mayBeBer: boolean;
    mustBeBer?: boolean;
    /** A plain `.gz`: 'magic' checks its first bytes, 'full' decompresses it too. */
    gzip?: 'magic' | 'full';
    label?: string;
    progress?: Progress;
  },
): Promise<FileCheck> {
  const sniff = opts.mayBeBer || opts.mustBeBer === true;
  // every file is opened, sniffed or not: one the restore could not read must not pass
  const start = await head(path, Math.max(CONTENT_INFO_PREFIX, ARMORED_PGP.length));
  // BER that is no EnvelopedData (an empty SEQUENCE, say) frames well but is no CMS file
  const hollow = sniff && looksLikeBer(start[0]) && contentInfoShape(start) === 'invalid';
  const ber = sniff && looksLikeBer(start[0]) && !hollow;
  let notBer: FileCheck = {};
  if (start.length === 0) notBer = { framing: 'truncated' };
  else if (hollow) notBer = { framing: 'invalid' };
  else if (opts.mustBeBer && !ber) notBer = { framing: 'invalid' };
  else if (sniff && !ber && !looksLikeOpenPgp(start)) notBer = { framing: 'invalid' };
  else if (opts.gzip && !start.subarray(0, 2).equals(GZIP_MAGIC)) notBer = { framing: 'invalid' };
  else if (opts.gzip === 'full') notBer = { framing: await gunzipResult(path) };
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
