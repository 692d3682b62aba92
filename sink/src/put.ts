import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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

/** Counts body bytes and fails with 413 past the limit (chunked bodies have no length up front). */
function byteLimit(max: number, counter: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      counter.bytes += chunk.length;
      noteAllocated(chunk.length); // socket Buffers are garbage once written: free them early
      if (counter.bytes > max) return done(new HttpRefusal(413, `body over ${max} bytes`));
      done(null, chunk);
    },
  });
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
    // flush: fsync before the stream closes, so what we publish is on disk.
    const out = createWriteStream(tempPath, { flags: 'wx', mode: 0o600, flush: true });
    // Not pipeline(req, …): that would destroy the request on a refusal (413, 507) and the
    // client would see a reset instead of the status. The request is fed in by hand.
    const limit = byteLimit(maxBody, counter);
    const abort = () => {
      if (!req.complete) limit.destroy(new HttpRefusal(400, 'client went away mid-body'));
    };
    req.once('close', abort);
    req.once('error', abort);
    req.pipe(limit);
    try {
      await pipeline(limit, out);
    } finally {
      req.unpipe(limit);
      req.off('close', abort);
      req.off('error', abort);
    }
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
