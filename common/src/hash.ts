import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

export interface FileHash {
  /** Lowercase hex digest. */
  hex: string;
  /** Bytes hashed (the file's size as read). */
  size: number;
}

export interface HashFileOptions {
  /** Any algorithm node's crypto knows ('sha256', 'sha1', 'md5', …). Default sha256. */
  algorithm?: string;
  /** Read size; two buffers of this size are all the memory used. Default 1 MiB. */
  chunkSize?: number;
  /** Called after each chunk with the bytes hashed so far (for progress lines). */
  onProgress?: (bytesDone: number) => void;
  /** Sees every chunk after it was hashed (valid only during the call), e.g. for a framing check. */
  onChunk?: (chunk: Buffer) => void;
}

// Read buffers are reused across calls: a checker hashing thousands of files would otherwise
// leave megabytes of dead external memory per file for V8 to collect late (RSS grows by tens of MiB).
const spare: Buffer[] = [];
function takeBuffer(size: number): Buffer {
  const i = spare.findIndex((b) => b.length === size);
  return i >= 0 ? spare.splice(i, 1)[0]! : Buffer.allocUnsafe(size);
}
function giveBack(b: Buffer): void {
  if (spare.length < 4) spare.push(b);
}

/**
 * Hash a file streamed in fixed chunks. Two buffers alternate so the next read runs in the
 * thread pool while the current chunk is hashed: throughput is that of the slower of disk and
 * hash, and memory stays at two chunks whatever the file size.
 */
export async function hashFile(path: string, options: HashFileOptions = {}): Promise<FileHash> {
  const chunkSize = options.chunkSize ?? 1 << 20;
  const hash = createHash(options.algorithm ?? 'sha256');
  const fh = await open(path, 'r');
  try {
    const buffers = [takeBuffer(chunkSize), takeBuffer(chunkSize)];
    let which = 0;
    let size = 0;
    let pending = fh.read(buffers[which]!, 0, chunkSize, null);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const current = buffers[which]!;
      which ^= 1;
      pending = fh.read(buffers[which]!, 0, chunkSize, null);
      const chunk = bytesRead === chunkSize ? current : current.subarray(0, bytesRead);
      hash.update(chunk);
      options.onChunk?.(chunk);
      size += bytesRead;
      options.onProgress?.(size);
    }
    buffers.forEach(giveBack);
    return { hex: hash.digest('hex'), size };
  } finally {
    await fh.close();
  }
}

/** SHA-256 of a file, streamed (lowercase hex). */
export async function sha256File(path: string, onProgress?: (bytesDone: number) => void): Promise<string> {
  return (await hashFile(path, { onProgress })).hex;
}
