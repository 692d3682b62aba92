/**
 * What a run does with the archive dir's leftovers before it writes a set: `work/` is emptied,
 * and `outgoing/` keeps the spooled sets still owed to some sink.
 *
 * With a usable state, its `pending` list says which those are: any other directory is a set a
 * killed run never recorded, and goes. Without one (state.json damaged, unreadable or missing)
 * nothing says which sets are undelivered, and a spooled set may be the only copy of that
 * backup anywhere (its sink was away). So every directory that is a complete set (named as a
 * set, its sums file present: written last, after the other files) is taken back as pending,
 * with a warning naming the state file and the sets; delivery then checks each against its
 * sums file, as for any set spooled by an earlier run. Only directories without a sums file
 * (a set a killed run was still writing: never recorded) go.
 *
 * A dry run (describeLeftovers) changes none of it: it says what a real run would remove and
 * keep.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@deaddrop/common/log';
import { parseTimestamp } from '@deaddrop/common/units';
import { setEnd } from '../transport/ledger.js';
import { statePath, type StateRead } from './state.js';

export interface LeftoverDirs {
  outgoing: string;
  work: string;
}

/** `full.T` or `inc.T1.to.T2`, basic-format UTC stamps. */
const SET_KEY = /^(full\.\d{8}T\d{6}Z|inc\.\d{8}T\d{6}Z\.to\.\d{8}T\d{6}Z)$/;

/** End time of a set key in epoch seconds (the key is SET_KEY-shaped). */
export function setKeyEnd(key: string): number {
  return parseTimestamp(setEnd(key)) ?? 0;
}

async function hasSumsFile(dir: string): Promise<boolean> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.some((n) => n.endsWith('.sha256sums'));
}

/**
 * The complete sets in outgoing/ (named as a set, its sums file present), oldest first: what a
 * state that has to be made anew (state.json damaged or missing) names as pending.
 */
export async function completeSpooledSets(outgoing: string): Promise<string[]> {
  const sets: string[] = [];
  for (const name of await readdir(outgoing).catch(() => [] as string[]))
    if (SET_KEY.test(name) && (await hasSumsFile(join(outgoing, name)))) sets.push(name);
  return sets.sort((a, b) => setKeyEnd(a) - setKeyEnd(b));
}

/**
 * What cleaning would do: the paths to remove (everything in work/, the outgoing/ directories
 * no sink is owed), the spooled set keys to deliver (oldest first), and without a usable state
 * the complete sets taken back as pending, with why there is no state. Looks only.
 */
export async function leftoverPlan(dirs: LeftoverDirs, read: StateRead, archiveDir: string) {
  const remove = (await readdir(dirs.work).catch(() => [] as string[])).map((n) => join(dirs.work, n));
  const names = await readdir(dirs.outgoing).catch(() => [] as string[]);
  if (read.status === 'ok') {
    const pending = new Set(read.state.pending);
    for (const name of names) if (!pending.has(name)) remove.push(join(dirs.outgoing, name));
    return { remove, spooled: read.state.pending, adopted: [] as string[], why: '' };
  }
  const adopted = await completeSpooledSets(dirs.outgoing);
  for (const name of names) if (!adopted.includes(name)) remove.push(join(dirs.outgoing, name));
  const why = read.status === 'none' ? `${statePath(archiveDir)}: missing` : read.problem;
  return { remove, spooled: adopted, adopted, why };
}

/**
 * Empties work/ and removes the outgoing/ directories no sink is owed; returns the spooled set
 * keys to deliver, oldest first.
 */
export async function cleanLeftovers(dirs: LeftoverDirs, read: StateRead, archiveDir: string, log: Logger) {
  const plan = await leftoverPlan(dirs, read, archiveDir);
  for (const path of plan.remove) await rm(path, { recursive: true, force: true });
  if (plan.adopted.length > 0)
    log.warn(
      `${plan.why}: kept the ${plan.adopted.length} sets waiting in ${dirs.outgoing} (${plan.adopted.join(', ')}): ` +
        'they go to the sinks that lack them',
      { sets: plan.adopted },
    );
  return plan.spooled;
}

/**
 * A set whose writing failed (a full disk, say): it was never recorded, so its directory goes,
 * and work/'s files with it, now rather than at the next run: a backup that failed for want
 * of space gives the space back.
 */
export async function abandonSet(setDir: string, dirs: LeftoverDirs): Promise<void> {
  await rm(setDir, { recursive: true, force: true });
  for (const name of await readdir(dirs.work).catch(() => [] as string[]))
    await rm(join(dirs.work, name), { recursive: true, force: true });
}

/**
 * A dry run's cleanLeftovers: removes nothing, takes nothing back; says what a real run would
 * remove and keep. Returns the same keys.
 */
export async function describeLeftovers(dirs: LeftoverDirs, read: StateRead, archiveDir: string, log: Logger) {
  const plan = await leftoverPlan(dirs, read, archiveDir);
  for (const path of plan.remove) log.info(`dry run: would remove ${path} (left by an earlier run)`, { path });
  if (plan.adopted.length > 0)
    log.info(
      `dry run: ${plan.why}: would keep the ${plan.adopted.length} sets waiting in ${dirs.outgoing} ` +
        `(${plan.adopted.join(', ')}) for the sinks that lack them`,
      { sets: plan.adopted },
    );
  return plan.spooled;
}
