/**
 * Attributes from a tar header onto a restored object (duplicity's ROPath.copy_attribs): owner
 * first (as root only; chown clears setuid bits), then mode, then mtime. The owner is the
 * header's user/group name when it exists here, else the numeric id (formats §5.1).
 * Synchronous, like the rest of the per-file work (see dest-tree.ts).
 */
import { chmodSync, fchmodSync, fchownSync, futimesSync, lchownSync, lutimesSync, utimesSync } from 'node:fs';
import type { RawHeader } from '../archive/tar-header.js';
import { loadOwnerNames, type OwnerNames } from '../scan/owners.js';

export interface Owners {
  of(h: RawHeader): { uid: number; gid: number };
}

/** What is applied: small, so directories can wait for the end with it. */
export interface Attributes {
  mode: number;
  mtime: number;
  /** Only when restoring ownership. */
  uid?: number;
  gid?: number;
}

/** Owner lookups when restoring ownership (as root), else undefined: files stay the restorer's. */
export function ownersWhenRoot(): Owners | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const names: OwnerNames = loadOwnerNames();
  return {
    of: (h) => ({
      uid: (h.uname ? names.uidOf(h.uname) : undefined) ?? h.uid,
      gid: (h.gname ? names.gidOf(h.gname) : undefined) ?? h.gid,
    }),
  };
}

export function attributesOf(h: RawHeader, owners: Owners | undefined): Attributes {
  return { mode: h.mode & 0o7777, mtime: h.mtime, ...(owners ? owners.of(h) : {}) };
}

export function setFdAttributes(fd: number, a: Attributes): void {
  if (a.uid !== undefined) fchownSync(fd, a.uid, a.gid!);
  fchmodSync(fd, a.mode);
  futimesSync(fd, a.mtime, a.mtime);
}

/** By path, for objects not opened (directories, fifos, devices, symlinks). */
export function setPathAttributes(path: string | Buffer, a: Attributes, symlink = false): void {
  if (a.uid !== undefined) lchownSync(path, a.uid, a.gid!);
  if (symlink) return lutimesSync(path, a.mtime, a.mtime); // a link's mode is always 0777 on Linux
  chmodSync(path, a.mode);
  utimesSync(path, a.mtime, a.mtime);
}
