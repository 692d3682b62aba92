import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { noteAllocated } from '@deaddrop/common/young-gc';
import { HttpRefusal, fsyncDir, mkdirsNoSymlinks, publishNoReplace, unlinkQuietly, walkNoSymlinks } from './safe-fs.js';

export interface PutTarget {
  root: string;
  tempDir: string;
  host: string;
  segments: string[];
}

/** Refuse before reading a byte of body: the name exists, or the path is unusable. */
export async function checkPutTarget(t: PutTarget): Promise<void> {
  const existing = await walkNoSymlinks(t.root, [t.host, ...t.segments]);
  if (existing) throw new HttpRefusal(409, 'exists');
}

/**
 * Copy the request body into a new 0600 file chunk by chunk, one write in flight (the socket is
 * paused meanwhile, so memory stays at a chunk per upload), then fsync. The iterator must not
 * destroy the request when we stop early (413, 507): the client is still owed a status.
 */
async function writeBody(req: IncomingMessage, path: string, max: number, counter: { bytes: number }): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      counter.bytes += chunk.length;
      if (counter.bytes > max) throw new HttpRefusal(413, `body over ${max} bytes`);
      for (let off = 0; off < chunk.length;) off += (await fh.write(chunk, off)).bytesWritten;
      noteAllocated(chunk.length); // socket Buffers are garbage once written: free them early
    }
    if (!req.complete) throw new HttpRefusal(400, 'client went away mid-body');
    // The whole body is here: a long fsync must not count as an idle client.
    req.socket.setTimeout(0);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

/**
 * Store a PUT body write-once: stream it into a fresh 0600 temp file outside the served tree
 * (same file system, so link() works), fsync, create the parent directories inside the host's
 * own directory, then link() the temp file to its final name, which never replaces an existing
 * entry (409). The temp name is always removed, so an aborted or failed upload leaves nothing.
 */
export async function storeUpload(req: IncomingMessage, t: PutTarget, maxBody: number): Promise<{ bytes: number }> {
  const tempPath = join(t.tempDir, `${t.host}.${randomBytes(8).toString('hex')}.part`);
  const counter = { bytes: 0 };
  try {
    await writeBody(req, tempPath, maxBody, counter);
    const expected = req.headers['content-length'];
    if (expected !== undefined && Number(expected) !== counter.bytes)
      throw new HttpRefusal(400, `body ended after ${counter.bytes} of ${expected} bytes`);
    const parentSegments = t.segments.slice(0, -1);
    const parent = await mkdirsNoSymlinks(t.root, [t.host, ...parentSegments]);
    await publishNoReplace(tempPath, join(parent, t.segments.at(-1)!));
    await fsyncDir(parent);
    return counter;
  } catch (err) {
    if (DISK_FULL.has((err as NodeJS.ErrnoException).code ?? ''))
      throw new HttpRefusal(507, `disk full (${(err as NodeJS.ErrnoException).code})`);
    throw err;
  } finally {
    await unlinkQuietly(tempPath);
  }
}
