import { closeSync, openSync, read } from 'node:fs';
import type { Writable } from 'node:stream';

const FEED_CHUNK = 1 << 20;

function readInto(fd: number, buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) =>
    read(fd, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

/**
 * Writes a file (a path, or an open descriptor such as stdin redirected from a file) into a
 * stream stage from two reused buffers: while the stage works on one, the next read fills the
 * other on the thread pool, so reading overlaps the work instead of adding to it (1 GiB CMS
 * encrypt: reads cost 0.53 s of a 2.0 s run when done in line). Each write is awaited before
 * its buffer is read into again, so only for stages that copy what they keep of a chunk
 * (signature, delta, encryption). A read stream would allocate a fresh buffer per chunk.
 * Ends the stage at end of file.
 */
export async function feedFile(source: string | number, stage: Writable): Promise<void> {
  const fd = typeof source === 'number' ? source : openSync(source, 'r');
  let next: Promise<number> | undefined;
  try {
    const bufs = [Buffer.allocUnsafe(FEED_CHUNK), Buffer.allocUnsafe(FEED_CHUNK)];
    let i = 0;
    next = readInto(fd, bufs[i]!);
    for (;;) {
      const n = await next;
      next = undefined;
      if (n === 0) break;
      const filled = bufs[i]!;
      i ^= 1;
      next = readInto(fd, bufs[i]!);
      await new Promise<void>((resolve, reject) =>
        stage.write(filled.subarray(0, n), (err) => (err ? reject(err) : resolve())),
      );
    }
    stage.end();
  } catch (err) {
    stage.destroy(err as Error);
    throw err;
  } finally {
    // a read still under way must finish before its descriptor is closed
    await next?.catch(() => {});
    if (typeof source !== 'number') closeSync(fd);
  }
}
