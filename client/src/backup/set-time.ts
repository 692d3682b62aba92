/**
 * A new set's time (its name) must never be one already used: a reused name makes a sink keep
 * the other run's file (same size: counted as delivered, silently) or refuse ours at every run
 * (another size). Two rules make a time unique:
 *
 * - a run holds the lock until the clock is past its set's second, so the next run (which
 *   needs the lock) starts in a later second even when the state is lost in between;
 * - before writing a set, the run lists the sinks and skips every second some set file there
 *   already ends at (a killed run's volumes, an archive dir lost or restored from a copy).
 *
 * A sink that cannot be listed at that point is skipped: its delivery fails this run anyway.
 */
import { describeError } from '@deaddrop/common/errors';
import type { Logger } from '@deaddrop/common/log';
import { parseSinkName } from '../format/names.js';
import type { SinkTargetLike } from '../transport/file-target.js';

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Wait until the wall clock's second is later than `t`; returns that second. */
export async function waitUntilAfter(t: number): Promise<number> {
  for (;;) {
    const now = nowSeconds();
    if (now > t) return now;
    await new Promise((r) => setTimeout(r, (t + 1) * 1000 - Date.now() + 5));
  }
}

/** The (end) times of every backup set file the sinks list. */
export async function setTimesOnSinks(targets: SinkTargetLike[], log: Logger): Promise<Set<number>> {
  const times = new Set<number>();
  await Promise.all(
    targets.map(async (t) => {
      let listing: Map<string, number>;
      try {
        listing = await t.list();
      } catch (err) {
        log.debug(`sink ${t.name}: cannot list it to check set names (${describeError(err)})`);
        return;
      }
      for (const name of listing.keys()) {
        const parsed = parseSinkName(name);
        if (parsed?.type === 'duplicity' || parsed?.type === 'sums') times.add(parsed.time);
      }
    }),
  );
  return times;
}

/** The first second after `after` that is now or past and that no set on a sink uses. */
export async function freeSetTime(after: number, used: Set<number>): Promise<number> {
  let time = await waitUntilAfter(after);
  while (used.has(time)) time = await waitUntilAfter(time);
  return time;
}
