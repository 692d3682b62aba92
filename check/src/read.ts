/**
 * Reading the small text files the check parses (sums files, plain manifests, `.sha256`
 * companions) with a size cap: a host can upload anything into its own directory, and one
 * huge "sums file" must not cost the check its memory (and every other host its report).
 */
import { open } from 'node:fs/promises';
import { formatBytes } from '@deaddrop/common/units';

/**
 * Sums files and legacy manifests: ~150 bytes a line, so 32 MiB is about 200 000 files in a
 * set (40 TB of default 200 MiB volumes).
 */
export const MAX_LISTING_BYTES = 32 * 1024 * 1024;
/** A companion is one `<hex>  NAME` line. */
export const MAX_COMPANION_BYTES = 4096;

/** The file is larger than the cap: a problem of the file, not an I/O error. */
export class TooLargeError extends Error {
  constructor(
    readonly file: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`${file}: too large to be what its name says (${formatBytes(size)}, at most ${formatBytes(limit)})`);
    this.name = 'TooLargeError';
  }
}

/**
 * Read at most `limit` bytes of `path`; a larger file (or one that grew past the cap while it
 * was read) throws TooLargeError naming `file`. I/O errors are thrown as they are.
 */
export async function readCapped(
  path: string,
  file: string,
  limit: number,
  encoding: BufferEncoding = 'utf8',
): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size > limit) throw new TooLargeError(file, size, limit);
    // one byte more than the size seen: growth past the cap is noticed, not read
    const buf = Buffer.alloc(Math.min(size, limit) + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) break;
    }
    if (n > limit) throw new TooLargeError(file, n, limit);
    return buf.toString(encoding, 0, n);
  } finally {
    await fh.close();
  }
}
