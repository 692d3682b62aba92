import { constants, type Stats } from 'node:fs';
import { link, lstat, mkdir, open, readlink, realpath, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDir } from '@deaddrop/common/fs';

/** A refusal that maps onto an HTTP status (the message goes to the access log only). */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** lstat that answers undefined for a missing entry. */
export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
      return undefined;
    throw err;
  }
}

/**
 * Walk base/segments[0]/... with lstat, refusing a symlink anywhere (403) and a non-directory
 * in the middle (409). Returns the stats of the last entry, or undefined when some component
 * (and so the entry) does not exist yet.
 */
export async function walkNoSymlinks(base: string, segments: string[]): Promise<Stats | undefined> {
  let path = base;
  let st: Stats | undefined;
  for (const [i, seg] of segments.entries()) {
    path = join(path, seg);
    st = await lstatOrUndefined(path);
    if (!st) return undefined;
    if (st.isSymbolicLink()) throw new HttpRefusal(403, `symlink on the path: ${path}`);
    if (i < segments.length - 1 && !st.isDirectory()) throw new HttpRefusal(409, `not a directory: ${path}`);
  }
  return st;
}

/**
 * Open the regular file base/segments... for reading without following a symlink anywhere:
 * every component is checked with lstat (walkNoSymlinks), the file is opened with O_NOFOLLOW,
 * and the opened descriptor must be that same inode at exactly that path (/proc/self/fd), so a
 * directory swapped for a symlink between the walk and the open is caught too. Undefined when
 * the file does not exist; 403 for a symlink or anything that is not a regular file.
 */
export async function openFileNoFollow(
  base: string,
  segments: string[],
): Promise<{ fh: FileHandle; size: number; mtime: Date } | undefined> {
  const walked = await walkNoSymlinks(base, segments);
  if (!walked) return undefined;
  if (!walked.isFile()) throw new HttpRefusal(403, 'not a regular file');
  const path = join(base, ...segments);
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new HttpRefusal(403, `symlink on the path: ${path}`);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.ino !== walked.ino || st.dev !== walked.dev)
      throw new HttpRefusal(403, `changed while opening: ${path}`);
    const opened = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => undefined);
    if (opened !== undefined && opened !== join(await realpath(base), ...segments))
      throw new HttpRefusal(403, `resolved through a symlink: ${path}`);
    return { fh, size: st.size, mtime: st.mtime };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** Directories this process made whose parent's fsync is still running (mkdirsNoSymlinks). */
const parentSyncs = new Map<string, Promise<void>>();

/**
 * Create the directories base/segments... (base itself must exist), never following a symlink:
 * each component is made with mkdir and then checked with lstat to be a real directory. The
 * parent of each directory made is fsynced, or a power loss could drop the new directory, and
 * the file the caller then publishes in it, after the client was told it was stored. A racing
 * call (a parallel upload into the same new directory) that finds the directory already there
 * waits for that fsync too.
 */
export async function mkdirsNoSymlinks(base: string, segments: string[], mode = 0o750): Promise<string> {
  let path = base;
  for (const seg of segments) {
    const parent = path;
    const dir = join(parent, seg);
    path = dir;
    let made = true;
    try {
      await mkdir(dir, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      made = false;
    }
    if (made) {
      const synced = syncDir(parent).finally(() => parentSyncs.delete(dir));
      parentSyncs.set(dir, synced);
      await synced;
    } else await parentSyncs.get(dir);
    const st = await lstat(path);
    if (st.isSymbolicLink()) throw new HttpRefusal(403, `symlink on the path: ${path}`);
    if (!st.isDirectory()) throw new HttpRefusal(409, `not a directory: ${path}`);
  }
  return path;
}

/**
 * Publish a finished temp file under its final name without ever replacing anything: link()
 * fails with EEXIST when the name exists (even as a dangling symlink), so two racing uploads of
 * one name get exactly one winner. The temp name is removed either way by the caller.
 */
export async function publishNoReplace(tempPath: string, finalPath: string): Promise<void> {
  try {
    await link(tempPath, finalPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new HttpRefusal(409, `exists: ${finalPath}`);
    throw err;
  }
}

export async function unlinkQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => {});
}
