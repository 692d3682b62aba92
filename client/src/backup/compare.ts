/**
 * Has an object changed since the signatures? Exactly duplicity's ROPath.__eq__ (formats §5.7):
 * the type; for files, directories and fifos the mode, owner and integer mtime (times ≤ 0 are
 * all equal); for symlinks only the target; for devices mode, owner and device numbers. Size
 * and content are not looked at. The old owner is resolved from the stored names when they
 * exist here, as duplicity does.
 *
 * Two additions. Git's "racy" rule: a regular file whose stored mtime second is at or after
 * `racySince`, the time of the set that stored it (chosen before that run read anything), may
 * have been written again in that same second after it was read, which mtime's one-second
 * resolution cannot show. It counts as changed: read again and sent as a delta (a few COPY
 * commands when nothing changed), after which its stored mtime is older than its set.
 *
 * And a regular file stored with mtime 0 counts as changed: 0 is the mark of a file that changed
 * while it was read (job-exec.ts, parallel-writer.ts), and under "times <= 0 are equal" a file
 * whose real mtime is <= 0 (an archive extracted with SOURCE_DATE_EPOCH=0; stored as 0) would
 * match the mark and its torn copy would never be replaced. Those rare files cost a delta each
 * run; the sigtar stays what duplicity reads.
 */
import type { ScanEntry } from '../scan/entry.js';
import type { OwnerNames } from '../scan/owners.js';
import type { OldEntry } from './old-signatures.js';

export function isChanged(now: ScanEntry, old: OldEntry, owners: OwnerNames, racySince?: number): boolean {
  if (old.kind === 'deleted' || old.type !== now.type) return true;
  const h = old.header;
  if (now.type === 'symlink') return !h.linkname.equals(now.linkTarget ?? Buffer.alloc(0));
  // an empty name (an id without a passwd/group entry) resolves to nothing: the stored id counts
  const uid = (h.uname ? owners.uidOf(h.uname) : undefined) ?? h.uid;
  const gid = (h.gname ? owners.gidOf(h.gname) : undefined) ?? h.gid;
  if ((h.mode & 0o7777) !== now.mode || uid !== now.uid || gid !== now.gid) return true;
  if (now.type === 'chardev' || now.type === 'blockdev')
    return h.devmajor !== now.devmajor || h.devminor !== now.devminor;
  if (now.type === 'file' && racySince !== undefined && h.mtime >= racySince) return true;
  if (now.type === 'file' && h.mtime === 0) return true; // maybe the "changed while read" mark
  if (h.mtime === now.mtime) return false;
  return !(h.mtime <= 0 && now.mtime <= 0);
}
