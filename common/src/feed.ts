import { closeSync, openSync, readSync } from 'node:fs';
import type { Writable } from 'node:stream';

const FEED_CHUNK = 1 << 20;

/**
 * Writes a file (a path, or an open descriptor such as stdin redirected from a file) into a
 * stream stage with synchronous reads into one reused buffer, each write awaited. Only for
 * stages that copy what they keep of a chunk (signature, delta, encryption): the buffer is
 * refilled as soon as a write has called back. A read stream allocates a fresh buffer per
 * chunk and waits on the thread pool for each read: for a 150 MiB file in the page cache
 * that measured 170-270 ms of reading against ~30 ms here. Ends the stage at end of file.
 */
export async function feedFile(source: string | number, stage: Writable): Promise<void> {
  const fd = typeof source === 'number' ? source : openSync(source, 'r');
  try {
    const buf = Buffer.allocUnsafe(FEED_CHUNK);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      await new Promise<void>((resolve, reject) =>
        stage.write(buf.subarray(0, n), (err) => (err ? reject(err) : resolve())),
      );
    }
    stage.end();
  } catch (err) {
    stage.destroy(err as Error);
    throw err;
  } finally {
    if (typeof source !== 'number') closeSync(fd);
  }
}
