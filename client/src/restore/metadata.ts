/**
 * Attributes from a tar header onto a restored object (duplicity's ROPath.copy_attribs): owner
 * first (as root only; chown clears setuid bits), then mode, then mtime. The owner is the
 * header's user/group name when it exists here, else the numeric id (formats §5.1).
 */
import type { FileHandle } from 'node:fs/promises';
import { chmod, lchown, lutimes, utimes } from 'node:fs/promises';
import type { RawHeader } from '../archive/tar-header.js';
import { loadOwnerNames, type OwnerNames } from '../scan/owners.js';

export interface Owners {
  of(h: RawHeader): { uid: number; gid: number };
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

export async function setHandleAttributes(fh: FileHandle, h: RawHeader, owners: Owners | undefined): Promise<void> {
  if (owners) {
    const o = owners.of(h);
    await fh.chown(o.uid, o.gid);
  }
  await fh.chmod(h.mode & 0o7777);
  await fh.utimes(h.mtime, h.mtime);
}

/** By path, for objects not opened (directories, fifos, devices, symlinks). */
export async function setPathAttributes(
  path: string | Buffer,
  h: RawHeader,
  owners: Owners | undefined,
  symlink = false,
): Promise<void> {
  if (owners) {
    const o = owners.of(h);
    await lchown(path, o.uid, o.gid);
  }
  if (symlink) return lutimes(path, h.mtime, h.mtime); // a link's mode is always 0777 on Linux
  await chmod(path, h.mode & 0o7777);
  await utimes(path, h.mtime, h.mtime);
}
