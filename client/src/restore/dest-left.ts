/**
 * What DEST holds when a restore stops short (an error, or a signal), in the words of the
 * message that ends it: the admin must be able to tell a cut-short tree from a finished one,
 * and know how to get a finished one.
 */
import { iso } from './catalog.js';

export interface DestProgress {
  dest: string;
  /** How the sets reached DEST (restore.ts, DestMode). */
  mode: 'fresh' | 'resume' | 'merge';
  /** merge: the restored tree was being moved into DEST. */
  merging: boolean;
  /** Volumes whose content was moved into place. */
  volumes: number;
  /** Sets applied whole. */
  setsDone: number;
  /** The time of the last set applied whole, if any. */
  lastDone: number | undefined;
}

/**
 * Directory attributes are set once every set is applied (a later set may change them, and a
 * directory stays writable meanwhile): until then the directories a restore made are mode 0700,
 * owned by whoever restores, dated by the restore.
 */
const UNFINISHED_DIRS =
  "the directories it made are still mode 0700, with the restore's owner and mtime (a finished restore sets theirs)";

export function whatDestHolds(p: DestProgress): string {
  if (p.mode === 'merge')
    return p.merging
      ? `${p.dest} holds part of the restored state (${UNFINISHED_DIRS}): run again with --force`
      : `${p.dest} is unchanged`;
  if (p.mode === 'fresh' && p.volumes === 0) return `nothing was restored into ${p.dest}`;
  const state = p.setsDone > 0 ? 'an incomplete, older state than the one asked for' : 'part of the state';
  // the sets before the failed one all checked out: their state can be restored finished
  const older =
    p.lastDone !== undefined
      ? `, or restore --time ${iso(p.lastDone)} into an empty directory for the last state that checked out`
      : '';
  return `${p.dest} holds ${state} (what was restored so far; ${UNFINISHED_DIRS}): run again with --force${older}`;
}
