import type { BigIntStats, Stats } from 'node:fs';
import type { PathIndex } from './path-index.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'chardev' | 'blockdev';

/** One object of the tree being backed up, with the metadata duplicity compares and stores. */
export interface ScanEntry {
  index: PathIndex;
  /** Absolute path (bytes). */
  path: Buffer;
  type: EntryType;
  /** Permission bits incl. setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Whole seconds, computed like Python's int(st_mtime). */
  mtime: number;
  size: number;
  /**
   * The inode's change time in nanoseconds, as the scan saw it. A job compares it after reading
   * (job-exec.ts): a file written again with its size and mtime put back (utimes) still has a
   * new ctime, which cannot be set back. Not stored anywhere.
   */
  ctimeNs: bigint;
  linkTarget?: Buffer;
  devmajor?: number;
  devminor?: number;
  /** A directory whose contents could not be listed (its old contents are kept, not deleted). */
  unlisted?: boolean;
  /**
   * A placeholder for an object whose lstat or readlink failed (EIO, ESTALE, EACCES...): it is
   * not gone, so the plan keeps the old entry at this index and everything below it as they
   * were. Its other fields mean nothing.
   */
  unreadable?: boolean;
}

/** The placeholder for an object that exists but whose metadata could not be read. */
export function unreadableEntry(index: PathIndex, path: Buffer): ScanEntry {
  // type 'dir': the progress count (regular files) leaves it out
  return { index, path, type: 'dir', mode: 0, uid: 0, gid: 0, mtime: 0, size: 0, ctimeNs: 0n, unreadable: true };
}

/** The metadata the scan records of an object of `type` (a link's target and a device's numbers are walk.ts's to add). */
export function entryOfStats(index: PathIndex, path: Buffer, type: EntryType, st: BigIntStats): ScanEntry {
  return {
    index,
    path,
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: pythonMtime(st),
    size: type === 'file' ? Number(st.size) : 0,
    ctimeNs: st.ctimeNs,
  };
}

/** What duplicity's int(os.lstat().st_mtime) gives: sec + nsec * 1e-9 as a double, truncated. */
export function pythonMtime(st: BigIntStats): number {
  const sec = st.mtimeNs / 1_000_000_000n;
  const nsec = st.mtimeNs - sec * 1_000_000_000n;
  return Math.trunc(Number(sec) + Number(nsec) * 1e-9);
}

/** Linux dev_t: major/minor as glibc's gnu_dev_major/minor. */
export function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
export function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

export function entryTypeOf(st: BigIntStats | Stats): EntryType | 'socket' | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  if (st.isSocket()) return 'socket';
  return undefined;
}
