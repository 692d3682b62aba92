import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { noteAllocated } from '@deaddrop/common/young-gc';
import { syncDir } from '@deaddrop/common/fs';
import { HttpRefusal, mkdirsNoSymlinks, publishNoReplace, unlinkQuietly, walkNoSymlinks } from './safe-fs.js';

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
 * Copy the request body into a new 0600 file as it arrives, then fsync. Each chunk is written
 * synchronously in its 'data' event, as nginx writes in its event loop: the chunk is garbage
 * before the next scavenge (common/young-gc.ts), so memory stays flat with many uploads at once.
 * Awaiting an async write per chunk (for await, thread pool) kept chunks alive across
 * scavenges until a full GC: 90-125 MiB RSS for 32 uploads instead of ~70 (npm run bench -- sink).
 * On a refusal (413, 507) the request is paused, not destroyed: the client is still owed a status.
 */
async function writeBody(req: IncomingMessage, path: string, max: number, counter: { bytes: number }): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await new Promise<void>((resolve, reject) => {
      const stop = (err: Error) => {
        req.off('data', onData).off('end', onEnd).off('close', onClose).off('error', stop);
        req.pause();
        reject(err);
      };
      const onData = (chunk: Buffer) => {
        counter.bytes += chunk.length;
        if (counter.bytes > max) return stop(new HttpRefusal(413, `body over ${max} bytes`));
        try {
          for (let off = 0; off < chunk.length;) off += writeSync(fh.fd, chunk, off);
        } catch (err) {
          return stop(err as Error);
        }
        noteAllocated(chunk.length); // socket Buffers are garbage once written: free them early
      };
      const onEnd = () => {
        req.off('close', onClose);
        resolve();
      };
      const onClose = () => stop(new HttpRefusal(400, 'client went away mid-body'));
      req.on('data', onData).once('end', onEnd).once('close', onClose).once('error', stop);
      // gone while its password or the target was checked: its 'close' was before our listener
      if (req.destroyed) stop(new HttpRefusal(400, 'client went away before the body'));
    });
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
    await syncDir(parent);
    return counter;
  } catch (err) {
    if (DISK_FULL.has((err as NodeJS.ErrnoException).code ?? ''))
      throw new HttpRefusal(507, `disk full (${(err as NodeJS.ErrnoException).code})`);
    throw err;
  } finally {
    await unlinkQuietly(tempPath);
  }
}
