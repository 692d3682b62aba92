/**
 * The sets to restore at a time, each loaded and checked (load-set.ts), before anything is
 * written. Without a time: the newest state that can be restored. Incomplete sets at the end
 * of the chain (an upload cut, or still going on) are left out with a warning naming them, and
 * an incomplete full falls back to the chain before it. With an explicit time, a set it
 * needs that is incomplete is refused. A gap is refused either way: a complete set after an
 * incomplete one, or a set whose predecessor is missing altogether. The error names the set at
 * fault and the --time of the last state that can be restored.
 */
import { DeaddropError } from '@deaddrop/common/errors';
import { setKey, type BackupChain, type BackupSet } from '../format/names.js';
import { iso, setAfterGap, setsAt, type Catalog } from './catalog.js';
import type { KeySource } from './key.js';
import { IncompleteSetError, loadSet, type LoadedSet } from './load-set.js';

export interface PickedSets {
  loaded: LoadedSet[];
  /** Incomplete sets left out: at the end of the chain (latest restore only), or a killed full. */
  warnings: string[];
}

const incompleteWarning = (s: BackupSet) =>
  `set ${setKey(s)} is incomplete (its upload was cut or is under way): not restored`;

export async function loadSetsAt(catalog: Catalog, t: number | undefined, key: KeySource): Promise<PickedSets> {
  const warnings: string[] = [];
  let left = catalog;
  for (;;) {
    const { chain, sets } = setsAt(left, t);
    refuseGap(catalog, sets[sets.length - 1]!, t);
    const { loaded, incomplete } = await loadUntilIncomplete(catalog, sets, key);
    if (!incomplete)
      return { loaded, warnings: [...killedFulls(catalog, chain, t).map(incompleteWarning), ...warnings] };
    const restorable = loaded.length ? loaded[loaded.length - 1]!.set.time : olderChainEnd(catalog, chain.full);
    if (t !== undefined) throw withTimeHint(incomplete, restorable);
    // latest: the rest of the chain must be incomplete too, else the newest state is out of reach
    for (const later of sets.slice(loaded.length + 1))
      await refuseComplete(catalog, later, key, incomplete, restorable);
    for (const s of sets.slice(loaded.length)) warnings.push(incompleteWarning(s));
    if (loaded.length)
      return { loaded, warnings: [...killedFulls(catalog, chain, t).map(incompleteWarning), ...warnings] };
    if (restorable === undefined) throw withTimeHint(incomplete, restorable);
    // the chain's full itself is incomplete: the chain before it, whole (not cut at this full's time)
    left = { ...left, chains: left.chains.filter((c) => c !== chain) };
  }
}

/** Fulls of killed runs (orphans, catalog.ts) after the chain's full and at or before `t`: left out. */
function killedFulls(catalog: Catalog, chain: BackupChain, t: number | undefined): BackupSet[] {
  return catalog.orphans.filter(
    (o) => o.set === 'full' && o.time > chain.full.time && (t === undefined || o.time <= t),
  );
}

/** Load `sets` in order up to the first incomplete one (other errors are thrown). */
async function loadUntilIncomplete(
  catalog: Catalog,
  sets: BackupSet[],
  key: KeySource,
): Promise<{ loaded: LoadedSet[]; incomplete?: IncompleteSetError }> {
  const loaded: LoadedSet[] = [];
  for (const s of sets) {
    try {
      loaded.push(await loadSet(catalog.source, s, key));
    } catch (err) {
      if (err instanceof IncompleteSetError) return { loaded, incomplete: err };
      throw err;
    }
  }
  return { loaded };
}

/** `later` follows the incomplete set in its chain: if it is complete, the incomplete one is a gap. */
async function refuseComplete(
  catalog: Catalog,
  later: BackupSet,
  key: KeySource,
  incomplete: IncompleteSetError,
  restorable: number | undefined,
): Promise<void> {
  try {
    await loadSet(catalog.source, later, key);
  } catch (err) {
    if (err instanceof IncompleteSetError) return;
    throw err;
  }
  throw withTimeHint(incomplete, restorable, `; set ${setKey(later)} after it cannot be applied without it`);
}

/** An incremental at or before `t` continues a set that is missing: refuse rather than restore an older state. */
function refuseGap(catalog: Catalog, last: BackupSet, t: number | undefined): void {
  const after = setAfterGap(catalog, last, t);
  if (!after) return;
  throw new DeaddropError(
    `a backup set is missing: none runs from ${iso(last.time)} (set ${setKey(last)}) to ${iso(after.startTime!)}, ` +
      `where set ${setKey(after)} starts, so it and the sets after it cannot be applied ` +
      `(take the missing set from the other sink, or restore the state before the gap with --time ${iso(last.time)})`,
  );
}

/** The end of the newest chain older than `full`, if any. */
function olderChainEnd(catalog: Catalog, full: BackupSet): number | undefined {
  const ends = catalog.chains.filter((c) => c.full.time < full.time).map((c) => c.endTime);
  return ends.length ? Math.max(...ends) : undefined;
}

function withTimeHint(err: IncompleteSetError, restorable: number | undefined, more = ''): DeaddropError {
  const hint =
    restorable === undefined
      ? 'there is no complete backup before it'
      : `the state before it can be restored with --time ${iso(restorable)}`;
  return new DeaddropError(`${err.message}${more} (${hint})`);
}
