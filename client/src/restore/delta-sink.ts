/**
 * Feed a librsync delta, chunk by chunk as the volume yields it, into a patch of the current
 * file, writing the new content to a staged file. Backpressure: a write waits while the patch
 * is busy (a long COPY), so memory stays at a few chunks.
 */
import { createWriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
// the barrel, not patch.js: restore's peak RSS depends on it (cli/src/registry.ts says why)
import { createPatchStream } from '../rsync/index.js';

export class DeltaSink {
  private readonly input = new PassThrough({ highWaterMark: 256 * 1024 });
  private readonly done: Promise<void>;

  constructor(basis: FileHandle, out: string, what: string) {
    this.done = pipeline(
      this.input,
      createPatchStream(basis, what),
      createWriteStream(out, { flags: 'wx', mode: 0o600 }),
    );
    this.done.catch(() => {}); // observed by write/end
  }

  /** `chunk` may be reused once this returns: the patch reads it later, so a copy is queued. */
  async write(chunk: Buffer): Promise<void> {
    if (!this.input.write(Buffer.from(chunk))) await Promise.race([once(this.input, 'drain'), this.done]);
  }

  async end(): Promise<void> {
    this.input.end();
    await this.done;
  }

  abort(): void {
    this.input.destroy();
  }
}
