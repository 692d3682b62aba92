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
 * A sink that cannot be listed at that point (or not within LIST_DEADLINE_MS) is skipped: its
 * delivery fails this run anyway.
 *
 * The time is taken before anything is read (compare.ts's "racy" rule relies on it), so it is
 * never set ahead of the clock: a clock stepped back further than a short wait fails the run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DeaddropError, describeError } from '@deaddrop/common/errors';
import { formatTimestamp } from '@deaddrop/common/units';
import type { Logger } from '@deaddrop/common/log';
import { parseSinkName } from '../format/names.js';
import type { SinkTargetLike } from '../transport/file-target.js';

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/**
 * The longest wait for the clock to pass the last set's second (duplicity sleeps 2 s): back-to-back
 * runs and small clock corrections. A longer skew is not slept through holding the lock.
 */
export const MAX_CLOCK_WAIT_SECONDS = 5;

/** The last set's time is further ahead of the clock than a short wait. */
export class ClockBehindError extends DeaddropError {
  constructor(lastTime: number, where: string) {
    const ahead = lastTime + 1 - Date.now() / 1000;
    super(
      `last backup set ${formatTimestamp(lastTime)} (${where}) is ${roughly(ahead)} ahead of the clock ` +
        `(${formatTimestamp(nowSeconds())}): was the clock set back? A new set must be named after it; ` +
        `fix the clock (or wait until after ${formatTimestamp(lastTime)}) and the next run goes on`,
    );
    this.name = 'ClockBehindError';
  }
}

/** "40 s", "10 min", "3 h 5 min". */
function roughly(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  return min < 60 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
}

/**
 * Wait until the wall clock's second is later than `t`; returns that second. An aborted
 * `signal` ends the wait at once, rejecting with its reason.
 */
export async function waitUntilAfter(t: number, signal?: AbortSignal): Promise<number> {
  for (;;) {
    signal?.throwIfAborted();
    const now = nowSeconds();
    if (now > t) return now;
    await sleep((t + 1) * 1000 - Date.now() + 5, undefined, signal ? { signal } : {}).catch((err: unknown) => {
      throw signal?.aborted ? signal.reason : err;
    });
  }
}

/** Whether the clock is within a short wait of being past `t`. */
export const shortWaitFor = (t: number): boolean => t + 1 - Date.now() / 1000 <= MAX_CLOCK_WAIT_SECONDS;

/**
 * How long the sinks are given to answer that listing. A listing's own retries take minutes
 * against a sink that takes connections and never answers, and nothing, for no sink, is
 * written until this is done: such a sink is skipped like one that cannot be listed.
 */
export const LIST_DEADLINE_MS = 30_000;

/** The (end) times of every backup set file the sinks list (those that answer in time). */
export async function setTimesOnSinks(
  targets: SinkTargetLike[],
  log: Logger,
  deadlineMs = LIST_DEADLINE_MS,
): Promise<Set<number>> {
  const times = new Set<number>();
  await Promise.all(
    targets.map(async (t) => {
      let listing: Map<string, number>;
      try {
        listing = await withDeadline(t.list(), deadlineMs, `no answer in ${deadlineMs / 1000} s`);
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

/** `p`, or a rejection with `message` once `ms` have passed (p goes on, its outcome unheeded). */
function withDeadline<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeaddropError(message)), ms);
  });
  p.catch(() => {}); // a listing that fails after the deadline is nobody's error
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * The first second after `after` (the last set's time, recorded in `where`) that is now or past
 * and that no set on a sink uses. Fails at once when the clock is far behind `after`.
 */
export async function freeSetTime(
  after: number,
  used: Set<number>,
  signal?: AbortSignal,
  where = 'state.json',
): Promise<number> {
  if (!shortWaitFor(after)) throw new ClockBehindError(after, where);
  let time = await waitUntilAfter(after, signal);
  while (used.has(time)) time = await waitUntilAfter(time, signal);
  return time;
}
