import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { HttpRefusal, openFileNoFollow } from './safe-fs.js';

/**
 * Answer a reader's GET: the stored file streamed from disk with its Content-Length (the
 * socket's back-pressure paces the reads, so memory stays at a chunk). Only regular files,
 * reached without a symlink anywhere; a directory or a missing name is 404. The bytes sent go
 * into `progress.bytesOut` as they leave (the access line is written when the answer
 * finishes, before this returns). A file that shrinks while it is read ends the response
 * short: the client sees fewer bytes than Content-Length and fails, it never gets a shorter
 * file that looks whole.
 */
export async function serveFile(
  root: string,
  segments: string[],
  res: ServerResponse,
  progress: { bytesOut?: number } = {},
): Promise<number> {
  const opened = await openFileNoFollow(root, segments).catch((err: unknown) => {
    if (err instanceof HttpRefusal && err.message === 'not a regular file') throw new HttpRefusal(404, 'not a file');
    throw err;
  });
  if (!opened) throw new HttpRefusal(404, 'not found');
  const { fh, size, mtime } = opened;
  let sent = 0;
  progress.bytesOut = 0;
  try {
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(size),
      'Last-Modified': mtime.toUTCString(),
    });
    if (size === 0) {
      res.end();
      return 0;
    }
    // bytes appended after the stat are not sent: Content-Length is a promise
    const src = fh.createReadStream({ start: 0, end: size - 1, highWaterMark: 256 * 1024, autoClose: false });
    src.on('data', (c: Buffer | string) => (progress.bytesOut = sent += c.length));
    await pipeline(src, res).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ERR_STREAM_PREMATURE_CLOSE') throw new HttpRefusal(400, `client went away after ${sent} bytes`);
      throw err;
    });
    return sent;
  } finally {
    await fh.close();
  }
}
