/**
 * A sink that is a directory (a `file://` URL, e.g. an NFS-mounted sink): the same write-once
 * rules as the WebDAV sinks. A file appears under its final name only when complete (temp
 * file in the same directory, fsync, hard link to the final name, which fails rather than
 * overwrite); an existing name with the same size counts as delivered, any other is an error.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { syncDir } from '@deaddrop/common/fs';
import { DeaddropError } from '@deaddrop/common/errors';

/** The SinkTarget interface of docs/ARCHITECTURE.md. */
export interface SinkTargetLike {
  readonly name: string;
  put(remoteName: string, body: () => Readable, size: number): Promise<'created' | 'exists'>;
  list(): Promise<Map<string, number>>;
  /** Release connections (keep-alive sockets) once the run is done. */
  close?(): void;
}

const TEMP_PREFIX = '.deaddrop-upload-';

export class FileTarget implements SinkTargetLike {
  readonly dir: string;

  constructor(
    readonly name: string,
    url: string,
  ) {
    this.dir = fileURLToPath(url);
  }

  async put(remoteName: string, body: () => Readable, size: number): Promise<'created' | 'exists'> {
    if (remoteName.includes('/') || remoteName.startsWith('.'))
      throw new DeaddropError(`${this.name}: refusing to store "${remoteName}"`);
    await mkdir(this.dir, { recursive: true });
    const final = join(this.dir, remoteName);
    const existing = await stat(final).catch(() => undefined);
    if (existing) return this.same(remoteName, existing.size, size);
    const temp = join(this.dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    try {
      await pipeline(body(), createWriteStream(temp, { flags: 'wx', mode: 0o644 }));
      const fh = await open(temp, 'r');
      try {
        const st = await fh.stat();
        if (st.size !== size)
          throw new DeaddropError(`${this.name}: ${remoteName}: wrote ${st.size} bytes, expected ${size}`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      try {
        await link(temp, final);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        return this.same(remoteName, (await stat(final)).size, size);
      }
      await syncDir(this.dir);
      return 'created';
    } finally {
      await unlink(temp).catch(() => {});
    }
  }

  private same(remoteName: string, have: number, want: number): 'exists' {
    if (have === want) return 'exists';
    throw new DeaddropError(`${this.name}: ${remoteName} already exists with ${have} bytes (expected ${want})`);
  }

  async list(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
      throw err;
    }
    for (const n of names) {
      if (n.startsWith(TEMP_PREFIX)) continue;
      const st = await stat(join(this.dir, n)).catch(() => undefined);
      if (st?.isFile()) out.set(n, st.size);
    }
    return out;
  }
}
