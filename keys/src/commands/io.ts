import { createReadStream, fstatSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { UsageError } from '@deaddrop/common/errors';
import { feedFile } from '@deaddrop/common/feed';
import { pipeInto, writeThroughTemp } from '@deaddrop/common/output-file';

/**
 * Where the input comes from: a stream, or (`file`) a regular file that the first stage may
 * read from one reused buffer (see feedFile: only for stages that copy what they keep).
 */
export interface Input {
  name: string;
  stream: Readable | null;
  file: string | number | null;
}

/**
 * The input named on the command line, or stdin for none or "-". With `feedable`, a regular
 * file (or stdin redirected from one) is returned as `file` instead of a stream.
 */
export async function openInput(path: string | undefined, feedable = false): Promise<Input> {
  if (!path || path === '-') {
    const isFile = fstatSync(0).isFile();
    if (isFile && feedable) return { stream: null, file: 0, name: 'stdin' };
    // stdin redirected from a file reads like a file (256 KiB at a time); a pipe reads as it comes
    if (isFile)
      return {
        stream: createReadStream('', { fd: 0, highWaterMark: 256 * 1024, autoClose: false }),
        file: null,
        name: 'stdin',
      };
    return { stream: process.stdin, file: null, name: 'stdin' };
  }
  try {
    await access(path);
  } catch (err) {
    throw new UsageError(`${path}: cannot read: ${(err as Error).message}`);
  }
  if ((await stat(path)).isDirectory()) throw new UsageError(`${path}: is a directory, not a file to read`);
  if (feedable) return { stream: null, file: path, name: path };
  // 256 KiB reads: fewer thread-pool round trips, and the next read overlaps the cipher work
  return { stream: createReadStream(path, { highWaterMark: 256 * 1024 }), file: null, name: path };
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
 * `mode`: the named output's (0600 for plaintext: a decrypted backup holds /etc/shadow).
 */
export async function runToOutput(
  input: Input,
  transforms: Transform[],
  output: string | undefined,
  mode: number,
  force = false,
): Promise<void> {
  const source = input.file === null ? input.stream! : (first: Transform) => feedFile(input.file!, first);
  if (output && output !== '-') return writeThroughTemp(source, transforms, output, mode, { overwrite: force });
  if (process.stdout.isTTY)
    throw new UsageError('refusing to write binary output to a terminal; use -o FILE or a pipe');
  await pipeInto(source, transforms, process.stdout);
}
