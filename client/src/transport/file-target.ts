/**
 * A sink that is a directory (a `file://` URL, e.g. an NFS-mounted sink): the same write-once
 * rules as the WebDAV sinks. A file appears under its final name only when complete (temp
 * file in the same directory, fsync, hard link to the final name, which fails rather than
 * overwrite); an existing name with the same size counts as delivered, any other is an error.
 * The directory is never created: on a sink that is not mounted, it is missing, and making it
 * would fill the local disk while the run said the sink took the set. A missing directory is
 * an unreachable sink (the set waits in the spool, as for a WebDAV sink that is down).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, constants, copyFile, link, open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { syncDir } from '@deaddrop/common/fs';
import { DeaddropError, naming } from '@deaddrop/common/errors';
import { FILE_SINK_TEMP_PREFIX } from '../format/names.js';

/** The SinkTarget interface of docs/ARCHITECTURE.md. */
export interface SinkTargetLike {
  readonly name: string;
  /**
   * Once `signal` aborts, a target that can (WebDAV) ends the request under way and starts no
   * other: the returned promise rejects soon after, nothing published (a local copy finishes).
   */
  put(remoteName: string, body: () => Readable, size: number, signal?: AbortSignal): Promise<'created' | 'exists'>;
  /** Store a local file by path, where the target can copy it without this thread reading it. */
  putFile?(remoteName: string, localPath: string, size: number): Promise<'created' | 'exists'>;
  list(signal?: AbortSignal): Promise<Map<string, number>>;
  /** Release connections (keep-alive sockets) once the run is done. */
  close?(): void;
}

const STALE_TEMP_MS = 3600_000;

export class FileTarget implements SinkTargetLike {
  readonly dir: string;

  constructor(
    readonly name: string,
    url: string,
  ) {
    this.dir = fileURLToPath(url);
  }

  put(remoteName: string, body: () => Readable, size: number): Promise<'created' | 'exists'> {
    return this.store(remoteName, size, (temp) =>
      pipeline(body(), createWriteStream(temp, { flags: 'wx', mode: 0o644 })),
    );
  }

  /**
   * The same, without this thread reading the bytes (during a backup it is busy encrypting the
   * next volume): a hard link where the spool is on the sink's file system (linkOrCopy), else
   * copied by the kernel (copy_file_range on the thread pool). A file system without Unix modes
   * (vfat, exfat: a USB disk) refuses the mode that copyFile sets on its copy, even to root;
   * there the file is copied through this thread, as put() does.
   */
  putFile(remoteName: string, localPath: string, size: number): Promise<'created' | 'exists'> {
    return this.store(remoteName, size, async (temp) => {
      try {
        await linkOrCopy(localPath, temp);
        await chmod(temp, 0o644); // as put() makes it, whatever the spool file's mode
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
        await unlink(temp).catch(() => {});
        await pipeline(createReadStream(localPath), createWriteStream(temp, { flags: 'wx', mode: 0o644 }));
      }
    });
  }

  private async store(
    remoteName: string,
    size: number,
    writeTemp: (temp: string) => Promise<void>,
  ): Promise<'created' | 'exists'> {
    if (remoteName.includes('/') || remoteName.startsWith('.'))
      throw new DeaddropError(`${this.name}: refusing to store "${remoteName}"`);
    await this.mustExist();
    const final = join(this.dir, remoteName);
    const existing = await stat(final).catch(() => undefined);
    if (existing) return this.same(remoteName, existing.size, size);
    const temp = join(this.dir, `${FILE_SINK_TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    try {
      await writeTemp(temp).catch((err: NodeJS.ErrnoException) => {
        throw err.syscall === 'read' ? err : naming(temp, err); // (a failed write says only "write")
      });
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

  /** A clear error for a sink directory that is missing (not mounted?) or not a directory. */
  private async mustExist(): Promise<void> {
    const st = await stat(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw err;
    });
    if (!st?.isDirectory())
      throw new DeaddropError(
        `${this.name}: ${this.dir} ${st ? 'is not a directory' : 'does not exist'}: mount the sink or create the ` +
          `directory (deaddrop does not create it, so an unmounted sink is not filled on the local disk)`,
      );
  }

  private same(remoteName: string, have: number, want: number): 'exists' {
    if (have === want) return 'exists';
    throw new DeaddropError(`${this.name}: ${remoteName} already exists with ${have} bytes (expected ${want})`);
  }

  /**
   * A temp file of a run that was killed mid-upload (up to a volume's size) would stay forever:
   * only this host writes here, under its lock, so one untouched for an hour is no upload's.
   */
  private async removeIfStale(name: string): Promise<void> {
    const path = join(this.dir, name);
    const st = await stat(path).catch(() => undefined);
    if (st?.isFile() && Date.now() - st.mtimeMs > STALE_TEMP_MS) await unlink(path).catch(() => {});
  }

  async list(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    await this.mustExist();
    const names = await readdir(this.dir);
    for (const n of names) {
      if (n.startsWith(FILE_SINK_TEMP_PREFIX)) {
        await this.removeIfStale(n);
        continue;
      }
      const st = await stat(join(this.dir, n)).catch(() => undefined);
      if (st?.isFile()) out.set(n, st.size);
    }
    return out;
  }
}

/** Why link() refuses where a copy still works: another file system, or one without hard links. */
const NO_LINK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Make `temp` a hard link to the spool file where both are on one file system: a local sink
 * then costs no second write of the set (the 1 GiB bench's full backup copied 600 MB at its
 * end). The spool only ever creates its files (never rewrites one), and drops its own name
 * once every sink has the file. Only one sink shares the spool's inode: a file already linked
 * (nlink > 1) is copied, so two file:// sinks on one file system still hold two copies.
 */
async function linkOrCopy(spooled: string, temp: string): Promise<void> {
  if ((await stat(spooled)).nlink === 1) {
    try {
      await link(spooled, temp);
      return;
    } catch (err) {
      if (!NO_LINK.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  await copyFile(spooled, temp, constants.COPYFILE_EXCL);
}
