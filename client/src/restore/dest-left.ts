/**
 * What DEST holds when a restore stops short (an error, or a signal), in the words of the
 * message that ends it: the admin must be able to tell a cut-short tree from a finished one,
 * and know how to get a finished one.
 */
import { iso } from './catalog.js';

export type AfterSets = 'settle' | 'parents' | 'mark' | 'merge' | 'finish';

const STEP: Record<AfterSets, string> = {
  settle: 'sorting out which directories are the restored state',
  parents: 'removing the directories left empty above a --path not in the backup',
  mark: 'marking DEST unfinished before the restored tree is moved into it',
  merge: 'moving the restored tree into DEST',
  finish: "setting the directories' mode, owner and mtime",
};

export interface DestProgress {
  dest: string;
  /** How the sets reached DEST (restore.ts, DestMode). */
  mode: 'fresh' | 'resume' | 'merge';
  /**
   * Every set was applied and checked out; this step, after them, is the one that stopped the
   * restore: `settle` (which directories are the restored state's), `parents` (removing the
   * directories left empty above a --path not in the backup), `mark` (writing DEST's marker
   * before the merge), `merge` (moving the restored tree into DEST), `finish` (setting the
   * directories' attributes).
   */
  step?: AfterSets;
  /**
   * The file that marks DEST unfinished (restore.ts, UNFINISHED), when there is one. merge:
   * from the merge on, or from the start when an earlier merge into DEST did not finish.
   */
  marker?: string;
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
/** finish() stopped part way: it sets the deepest directories first. */
const UNSET_DIRS = "those it did not reach are still mode 0700, with the restore's owner and mtime";

export function whatDestHolds(p: DestProgress): string {
  if (p.step) return afterSets(p, p.step);
  if (p.mode === 'merge') return unchanged(p);
  if (p.mode === 'fresh' && p.volumes === 0) return `nothing was restored into ${p.dest}`;
  const state = p.setsDone > 0 ? 'an incomplete, older state than the one asked for' : 'part of the state';
  // the sets before the failed one all checked out: their state can be restored finished
  const older =
    p.lastDone !== undefined
      ? `, or restore --time ${iso(p.lastDone)} into an empty directory for the last state that checked out`
      : '';
  return `${p.dest} holds ${state} (what was restored so far; ${UNFINISHED_DIRS}): run again with --force${older}`;
}

/**
 * Every set checked out: what is unfinished is the step after them (an error, or a signal). The tree the sets made is
 * the state asked for; what DEST holds depends on how far that tree got into DEST.
 */
function afterSets(p: DestProgress, step: AfterSets): string {
  const failed = `every set was applied and checked out, but ${STEP[step]} did not finish`;
  const rerun = `${p.marker ? `marked by ${p.marker}: ` : ''}run again with --force`;
  // merge: the sets were applied to a tree of their own, which had not reached DEST yet
  if (p.mode === 'merge' && (step === 'settle' || step === 'parents' || step === 'mark'))
    return `${failed}: ${unchanged(p)}`;
  if (step === 'merge')
    return `${failed}: ${p.dest} holds part of the restored state, the rest as it was (${UNFINISHED_DIRS}), ${rerun}`;
  if (step === 'finish')
    return `${failed}: ${p.dest} holds the restored state, but not all of its directories have their own attributes (${UNSET_DIRS}), ${rerun}`;
  const extra = step === 'parents' ? ', and maybe empty directories that are not of it' : '';
  return `${failed}: ${p.dest} holds the restored state${extra} (${UNFINISHED_DIRS}), ${rerun}`;
}

/** merge, before the merge: DEST is as it was, which may be what an earlier merge that did not finish left. */
function unchanged(p: DestProgress): string {
  if (!p.marker) return `${p.dest} is unchanged`;
  return (
    `${p.dest} is unchanged: still part of the restored state and part of what it held, as an earlier restore ` +
    `left it, marked by ${p.marker}: run again with --force`
  );
}
