/**
 * Per-sink delivery ledger in the archive dir (`ledger/<sink>.json`, written atomically): the
 * sets this sink has confirmed (PROPFIND showed every file with its size) and the sets it will
 * never get because they were dropped from a full spool (or lost, or blocked). A dropped set
 * keeps the sink lagging until it confirms a full set made after that set (a new chain no
 * longer needs the old one); confirming an older full does not clear it.
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
  /** When the sink last confirmed a set. */
  lastConfirmed?: string;
}

/** Confirmed keys kept: enough for any spool, small enough to rewrite every run. */
const KEEP_CONFIRMED = 200;

export function ledgerDir(archiveDir: string): string {
  return join(archiveDir, 'ledger');
}

export async function readLedger(archiveDir: string, sink: string): Promise<SinkLedger> {
  const fresh: SinkLedger = { version: 1, sink, confirmed: [], dropped: [] };
  try {
    const l = JSON.parse(await readFile(join(ledgerDir(archiveDir), `${sink}.json`), 'utf8')) as SinkLedger;
    if (l.version !== 1 || !Array.isArray(l.confirmed) || !Array.isArray(l.dropped)) return fresh;
    return { ...l, sink };
  } catch {
    // Missing or damaged: every spooled set is checked against the sink's listing again.
    return fresh;
  }
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
  if (full) ledger.dropped = ledger.dropped.filter((k) => setEnd(k) > setEnd(key));
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
