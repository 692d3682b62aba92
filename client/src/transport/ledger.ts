/**
 * Per-sink delivery ledger in the archive dir (`ledger/<sink>.json`, written atomically): the
 * sets this sink has confirmed (PROPFIND showed every file with its size) and the sets it will
 * never get because they were dropped from a full spool (or lost, or blocked). A dropped set
 * keeps the sink lagging until it confirms a full set made after that set (a new chain no
 * longer needs the old one); confirming an older full does not clear it. Beyond a bound, old
 * dropped sets are kept as a count rather than by name (foldDropped).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from '@deaddrop/common/fs';

export interface SinkLedger {
  version: 1;
  sink: string;
  /** Set keys confirmed on the sink, oldest first (bounded). */
  confirmed: string[];
  /** Set keys dropped from the spool before this sink had them. */
  dropped: string[];
  /** Dropped sets no longer named in `dropped` (see foldDropped): they still count as lacking. */
  droppedEarlier?: DroppedEarlier;
  /** When the sink last confirmed a set. */
  lastConfirmed?: string;
}

export interface DroppedEarlier {
  count: number;
  oldest: string;
  newest: string;
}

/** Confirmed keys kept: enough for any spool, small enough to rewrite every run. */
const KEEP_CONFIRMED = 200;
/** Dropped keys named before the oldest that no decision needs are folded into a count. */
export const KEEP_DROPPED = 50;

export function ledgerDir(archiveDir: string): string {
  return join(archiveDir, 'ledger');
}

export async function readLedger(archiveDir: string, sink: string): Promise<SinkLedger> {
  const fresh: SinkLedger = { version: 1, sink, confirmed: [], dropped: [] };
  try {
    const l = JSON.parse(await readFile(join(ledgerDir(archiveDir), `${sink}.json`), 'utf8')) as SinkLedger;
    if (l.version !== 1 || !Array.isArray(l.confirmed) || !Array.isArray(l.dropped)) return fresh;
    if (l.droppedEarlier !== undefined && !validEarlier(l.droppedEarlier)) return fresh;
    return { ...l, sink };
  } catch {
    // Missing or damaged: every spooled set is checked against the sink's listing again.
    return fresh;
  }
}

function validEarlier(e: DroppedEarlier): boolean {
  return Number.isInteger(e.count) && e.count > 0 && typeof e.oldest === 'string' && typeof e.newest === 'string';
}

export async function writeLedger(archiveDir: string, ledger: SinkLedger): Promise<void> {
  await ensureDir(ledgerDir(archiveDir), 0o700);
  ledger.confirmed = ledger.confirmed.slice(-KEEP_CONFIRMED);
  await writeFileAtomic(
    join(ledgerDir(archiveDir), `${ledger.sink}.json`),
    JSON.stringify(ledger, null, 2) + '\n',
    0o600,
  );
}

export function confirm(ledger: SinkLedger, key: string, full: boolean): void {
  if (!ledger.confirmed.includes(key)) ledger.confirmed.push(key);
  ledger.lastConfirmed = new Date().toISOString();
  // A full starts a chain that needs no older set; a newer one dropped (lost from the spool,
  // blocked on the sink) still belongs to a chain the sink lacks.
  if (full) {
    ledger.dropped = ledger.dropped.filter((k) => setEnd(k) > setEnd(key));
    // folded sets are only known by their range: cleared once the full is newer than all of them
    if (ledger.droppedEarlier && setEnd(ledger.droppedEarlier.newest) <= setEnd(key)) delete ledger.droppedEarlier;
  }
}

/**
 * A sink away for months has a set dropped for it at nearly every run: beyond KEEP_DROPPED
 * names, the oldest that no decision needs by name (`needed`: sets still spooled, checked one
 * by one, and the current chain, whether the sink holds it) are folded into a count with their
 * range. Chain cuts are recorded by name before this runs, so no later set needs them either.
 */
export function foldDropped(ledger: SinkLedger, needed: (key: string) => boolean): void {
  const byAge = [...ledger.dropped].sort((a, b) => (setEnd(a) < setEnd(b) ? -1 : setEnd(a) > setEnd(b) ? 1 : 0));
  let excess = ledger.dropped.length - KEEP_DROPPED;
  const fold = new Set<string>();
  for (const key of byAge) {
    if (excess <= 0) break;
    if (needed(key)) continue;
    fold.add(key);
    excess--;
  }
  if (fold.size === 0) return;
  const folded = byAge.filter((k) => fold.has(k));
  const e = ledger.droppedEarlier;
  const oldest = e && setEnd(e.oldest) < setEnd(folded[0]!) ? e.oldest : folded[0]!;
  const newest = e && setEnd(e.newest) > setEnd(folded.at(-1)!) ? e.newest : folded.at(-1)!;
  ledger.droppedEarlier = { count: (e?.count ?? 0) + fold.size, oldest, newest };
  ledger.dropped = ledger.dropped.filter((k) => !fold.has(k));
}

export function hasConfirmed(ledger: SinkLedger, key: string): boolean {
  return ledger.confirmed.includes(key);
}

/** End time of a set key (`full.T`, `inc.S.to.T`); the basic-format stamps sort as strings. */
export function setEnd(key: string): string {
  return key.slice(key.lastIndexOf('.') + 1);
}

export function isFullKey(key: string): boolean {
  return key.startsWith('full.');
}

/**
 * An incremental this sink can never restore: a set of its chain made before it was dropped
 * for the sink. Chains are linear in time, so the chain of `key` starts at the last full at or
 * before it among `fulls` and the fulls the ledger knows.
 */
export function chainCut(ledger: SinkLedger, key: string, fulls: string[]): boolean {
  if (isFullKey(key)) return false;
  const end = setEnd(key);
  const start = [...fulls, ...ledger.confirmed, ...ledger.dropped]
    .filter((k) => isFullKey(k) && setEnd(k) <= end)
    .map(setEnd)
    .reduce((a, b) => (b > a ? b : a), '');
  return ledger.dropped.some((d) => setEnd(d) >= start && setEnd(d) < end);
}
