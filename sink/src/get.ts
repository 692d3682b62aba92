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
 * A `Range` of one span (`bytes=A-B`, `A-`, `-N`) is answered 206 with those bytes, as nginx
 * does: a restore whose connection broke mid-volume goes on from there (client
 * restore/webdav-source.ts). One that starts past the end is 416; other forms (several spans)
 * get the whole file, as RFC 9110 allows.
 */
export async function serveFile(
  root: string,
  segments: string[],
  res: ServerResponse,
  progress: { bytesOut?: number } = {},
  range?: string,
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
    const span = range === undefined ? undefined : byteSpan(range, size);
    const headers = {
      'Content-Type': 'application/octet-stream',
      'Last-Modified': mtime.toUTCString(),
      'Accept-Ranges': 'bytes',
    };
    if (span === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}`, 'Content-Length': '0' });
      res.end();
      return 0;
    }
    const [start, end] = span ?? [0, size - 1];
    res.writeHead(span ? 206 : 200, {
      ...headers,
      'Content-Length': String(end - start + 1),
      ...(span ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (end < start) {
      res.end();
      return 0;
    }
    // bytes appended after the stat are not sent: Content-Length is a promise
    const src = fh.createReadStream({ start, end, highWaterMark: 256 * 1024, autoClose: false });
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

/**
 * The one span of a `Range: bytes=...` header within a file of `size` bytes, [first, last]; or
 * 'unsatisfiable' (it starts at or past the end); or undefined: not a single byte span, the
 * header is ignored (RFC 9110 §14.2).
 */
export function byteSpan(range: string, size: number): [number, number] | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    // the last N bytes
    const n = Number(m[2]);
    return n === 0 || size === 0 ? 'unsatisfiable' : [Math.max(0, size - n), size - 1];
  }
  const first = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < first) return undefined; // invalid: ignored
  return first >= size ? 'unsatisfiable' : [first, last];
}
