/**
 * Reading a regular file for a backup: opened without following links and without blocking
 * (a path that became a fifo since the scan must not hang the run), read up to the size the
 * scan saw, so the tar headers, the signature and the data all describe the same bytes. A file
 * that grew is cut at the scanned size, one that shrank ends early; either way it is reported
 * as changed while read, and the signature archive records mtime 0 for it so the next run
 * takes it again. Used by the main thread for the small changed files it sends as deltas; the
 * workers read with blocking calls of their own (job-exec.ts).
 */
import { constants, type BigIntStats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { ScanEntry } from '../scan/entry.js';
import { pythonMtime } from '../scan/entry.js';

export const CHUNK = 64 * 1024;
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export type OpenFailure = { kind: 'vanished' | 'unreadable' | 'not-a-file'; message: string };

export interface OpenedFile {
  /** Open while more data may follow the first chunk. */
  fh: FileHandle | undefined;
  first: Buffer;
  /** Bytes read so far. */
  read: number;
  stat: BigIntStats;
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

/** Open and read the first chunk (≤ 64 KiB, ≤ the scanned size); closes files that fit in it. */
export async function prefetchFile(entry: ScanEntry): Promise<OpenedFile | OpenFailure> {
  let fh: FileHandle;
  try {
    fh = await open(entry.path, FLAGS);
  } catch (err) {
    const c = code(err);
    if (c === 'ENOENT' || c === 'ENOTDIR') return { kind: 'vanished', message: 'vanished before it was read' };
    if (c === 'ELOOP') return { kind: 'not-a-file', message: 'became a symlink before it was read' };
    return { kind: 'unreadable', message: `cannot open (${c})` };
  }
  try {
    const want = Math.min(CHUNK, entry.size);
    const first = Buffer.allocUnsafe(want);
    const { bytesRead } = want > 0 ? await fh.read(first, 0, want, 0) : { bytesRead: 0 };
    const stat = await fh.stat({ bigint: true });
    if (!stat.isFile()) {
      await fh.close();
      return { kind: 'not-a-file', message: 'is no longer a regular file' };
    }
    const done = bytesRead < CHUNK || entry.size === CHUNK;
    const result: OpenedFile = { fh, first: first.subarray(0, bytesRead), read: bytesRead, stat };
    if (done && entry.size <= CHUNK) {
      await fh.close();
      result.fh = undefined;
    }
    return result;
  } catch (err) {
    await fh.close().catch(() => {});
    return { kind: 'unreadable', message: `read failed (${code(err)})` };
  }
}

/**
 * The rest of the file after the first chunk, in chunks of exactly 64 KiB except the last,
 * never past the scanned size. Two reads are kept in flight. Closes the file.
 */
export async function* restOfFile(entry: ScanEntry, f: OpenedFile): AsyncGenerator<Buffer> {
  const fh = f.fh;
  if (!fh) return;
  let pos = f.read;
  const readAt = async (at: number): Promise<Buffer> => {
    const want = Math.min(CHUNK, entry.size - at);
    if (want <= 0) return Buffer.alloc(0);
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(buf, got, want - got, at + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  };
  try {
    let next = readAt(pos);
    for (;;) {
      const chunk = await next;
      pos += chunk.length;
      const more = chunk.length === CHUNK && pos < entry.size;
      if (more) next = readAt(pos);
      f.read = pos;
      yield chunk;
      if (!more) return;
    }
  } finally {
    f.fh = undefined;
    f.stat = await fh.stat({ bigint: true }).catch(() => f.stat);
    await fh.close().catch(() => {});
  }
}

/** Did the file change between the scan and the end of reading it? */
export function changedWhileRead(entry: ScanEntry, f: OpenedFile): boolean {
  return f.read !== entry.size || Number(f.stat.size) !== entry.size || pythonMtime(f.stat) !== entry.mtime;
}

/** Close a file whose data ended with the first chunk (its stat is refreshed first). */
export async function finishFile(f: OpenedFile): Promise<void> {
  const fh = f.fh;
  if (!fh) return;
  f.fh = undefined;
  f.stat = await fh.stat({ bigint: true }).catch(() => f.stat);
  await fh.close().catch(() => {});
}
