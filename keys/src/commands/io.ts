import { createReadStream, fstatSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UsageError } from '@deaddrop/common/errors';
import { writeThroughTemp } from '../decrypt-file.js';

/** The input named on the command line, or stdin for none or "-". */
export async function openInput(path: string | undefined): Promise<{ stream: Readable; name: string }> {
  if (!path || path === '-') {
    // stdin redirected from a file reads like a file (256 KiB at a time); a pipe reads as it comes
    if (fstatSync(0).isFile())
      return { stream: createReadStream('', { fd: 0, highWaterMark: 256 * 1024, autoClose: false }), name: 'stdin' };
    return { stream: process.stdin, name: 'stdin' };
  }
  try {
    await access(path);
  } catch (err) {
    throw new UsageError(`${path}: cannot read: ${(err as Error).message}`);
  }
  // 256 KiB reads: fewer thread-pool round trips, and the next read overlaps the cipher work
  return { stream: createReadStream(path, { highWaterMark: 256 * 1024 }), name: path };
}

/** Counts the bytes that pass (for --json results). */
export class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/**
 * Run input -> transforms -> output. A named output is written through a temp file and renamed
 * only on success; stdout can't be taken back, so a failure there leaves what was written.
 */
export async function runToOutput(input: Readable, transforms: Transform[], output: string | undefined): Promise<void> {
  if (output && output !== '-') return writeThroughTemp(input, transforms, output, 0o644);
  if (process.stdout.isTTY)
    throw new UsageError('refusing to write binary output to a terminal; use -o FILE or a pipe');
  await pipeline([input, ...transforms, process.stdout]);
}
