/**
 * Tar entry names and headers of duplicity archives (formats §5.2, §6.1): `snapshot/`,
 * `diff/`, `deleted/`, `multivol_snapshot/PATH/K`, `multivol_diff/PATH/K`, `signature/`; the root is `snapshot/./` in
 * volumes and `snapshot/` in signature archives; directories end with `/`.
 */
import { TarType, type TarHeader, type TarTypeFlag } from '../archive/tar-header.js';
import type { ScanEntry } from '../scan/entry.js';
import type { OwnerNames } from '../scan/owners.js';
import { joinIndex, type PathIndex } from '../scan/path-index.js';

const TYPE_FLAG: Record<ScanEntry['type'], TarTypeFlag> = {
  file: TarType.FILE,
  dir: TarType.DIR,
  symlink: TarType.SYMLINK,
  fifo: TarType.FIFO,
  chardev: TarType.CHARDEV,
  blockdev: TarType.BLOCKDEV,
};

const b = (s: string) => Buffer.from(s);
export const ROOT_IN_VOLUME = b('snapshot/./');
export const ROOT_IN_SIGTAR = b('snapshot/');

export function entryName(prefix: string, index: PathIndex, dir = false): Buffer {
  return Buffer.concat([b(prefix + '/'), joinIndex(index), dir ? b('/') : Buffer.alloc(0)]);
}

/** `multivol_snapshot/PATH/K` or `multivol_diff/PATH/K`. */
export function chunkName(prefix: string, index: PathIndex, k: number): Buffer {
  return Buffer.concat([entryName(prefix, index), b(`/${k}`)]);
}

export function headerOf(e: ScanEntry, owners: OwnerNames, name: Buffer, size: number): TarHeader {
  const h: TarHeader = {
    name,
    type: TYPE_FLAG[e.type],
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size,
    mtime: e.mtime,
    uname: owners.user(e.uid),
    gname: owners.group(e.gid),
  };
  if (e.linkTarget) h.linkname = Buffer.from(e.linkTarget);
  if (e.devmajor !== undefined) {
    h.devmajor = e.devmajor;
    h.devminor = e.devminor;
  }
  return h;
}

/** A `deleted/` marker: a regular-file header with everything zero (formats §5.3). */
export function deletedHeader(name: Buffer): TarHeader {
  return { name, type: TarType.FILE, mode: 0, uid: 0, gid: 0, size: 0, mtime: 0, uname: '', gname: '' };
}

/** Volume and sigtar headers of a non-file object (directory, symlink, fifo, device). */
export function metaHeaders(e: ScanEntry, owners: OwnerNames): { volume: TarHeader; sigtar: TarHeader } {
  const isRoot = e.index.length === 0;
  const volume = headerOf(e, owners, isRoot ? ROOT_IN_VOLUME : entryName('snapshot', e.index, e.type === 'dir'), 0);
  return { volume, sigtar: { ...volume, name: isRoot ? ROOT_IN_SIGTAR : volume.name } };
}

/** Size of a duplicity signature of `size` bytes with these parameters. */
export function signatureSize(size: number, blockLen: number, strongLen: number): number {
  return 12 + Math.ceil(size / blockLen) * (4 + strongLen);
}
