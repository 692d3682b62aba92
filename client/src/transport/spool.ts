/**
 * The spool: outgoing/<set>/ directories of sets some sink has not confirmed yet, bounded by
 * the configured size. A set leaves it when every sink has confirmed it; when the spool is over
 * its limit the oldest sets are dropped and every sink still lacking one records it as dropped
 * in its ledger (it lags until a later full reaches it). The later sets of a chain that lost a
 * set that way can never be restored on that sink: they are dropped for it too, and leave the
 * spool when no other sink still needs them.
 *
 * settleSpool only decides: the caller writes the ledgers (with the drops) first and then
 * removes the directories in `remove`, so a run killed in between never loses the record of a
 * drop (the directories are then still there, and the next run settles them again).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@deaddrop/common/log';
import { chainCut, hasConfirmed, isFullKey, setEnd, type SinkLedger } from './ledger.js';

export interface SpoolOptions {
  outgoing: string;
  /** Spooled set keys, oldest first. */
  pending: string[];
  limit: number;
  ledgers: SinkLedger[];
  log: Logger;
}

export interface SpoolResult {
  /** Keys still spooled, oldest first. */
  pending: string[];
  /** Dropped this run because the spool was full. */
  dropped: string[];
  /** Bytes still spooled. */
  bytes: number;
  /** Set keys whose outgoing/<set>/ directory is to go once the ledgers are written. */
  remove: string[];
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(dir).catch(() => [] as string[]))
    n += (await stat(join(dir, name)).catch(() => undefined))?.size ?? 0;
  return n;
}

export async function settleSpool(o: SpoolOptions): Promise<SpoolResult> {
  const kept: { key: string; bytes: number }[] = [];
  const remove: string[] = [];
  for (const key of o.pending) {
    if (o.ledgers.every((l) => hasConfirmed(l, key))) remove.push(key);
    else kept.push({ key, bytes: await dirBytes(join(o.outgoing, key)) });
  }
  let bytes = kept.reduce((n, s) => n + s.bytes, 0);
  const dropped: string[] = [];
  while (bytes > o.limit && kept.length > 0) {
    const oldest = kept.shift()!;
    const lacking = o.ledgers.filter((l) => !hasConfirmed(l, oldest.key));
    for (const l of lacking) if (!l.dropped.includes(oldest.key)) l.dropped.push(oldest.key);
    remove.push(oldest.key);
    bytes -= oldest.bytes;
    dropped.push(oldest.key);
    o.log.error(
      `spool over its limit (${o.limit} bytes): dropped ${oldest.key}, which ${lacking.map((l) => l.sink).join(', ')} ` +
        'never received; the next full backup repairs that',
      { set: oldest.key, sinks: lacking.map((l) => l.sink) },
    );
    bytes -= dropCutChains(kept, o, remove);
  }
  return { pending: kept.map((s) => s.key), dropped, bytes, remove };
}

/**
 * The kept sets (oldest first) whose chain lost an earlier set on some sink that still lacks
 * them: dropped for that sink (as delivery would at the next run: deliver.ts), and out of the
 * spool (in `remove`) when no sink still needs them. Returns the bytes that frees.
 */
function dropCutChains(kept: { key: string; bytes: number }[], o: SpoolOptions, remove: string[]): number {
  const fulls = o.pending.filter(isFullKey);
  let freed = 0;
  for (const set of [...kept]) {
    const cut = o.ledgers.filter(
      (l) => !hasConfirmed(l, set.key) && !l.dropped.includes(set.key) && chainCut(l, set.key, fulls),
    );
    if (cut.length === 0) continue;
    for (const l of cut) l.dropped.push(set.key);
    if (o.ledgers.some((l) => !hasConfirmed(l, set.key) && !l.dropped.includes(set.key))) continue;
    kept.splice(kept.indexOf(set), 1);
    remove.push(set.key);
    freed += set.bytes;
    o.log.warn(
      `${cut.map((l) => l.sink).join(', ')} can no longer get an earlier set of the chain of ${set.key}: ` +
        'it leaves the spool too; the sink lags until a later full backup reaches it',
      { set: set.key, sinks: cut.map((l) => l.sink) },
    );
  }
  return freed;
}

/** Sets a sink still lacks by name: spooled and unconfirmed, or dropped (folded ones not named). */
export function laggingSets(ledger: SinkLedger, pending: string[]): string[] {
  // a set can be both: dropped for this sink (it can never go there) and still pending for another
  return [...new Set([...ledger.dropped, ...pending.filter((k) => !hasConfirmed(ledger, k))])];
}

/** How many sets a sink lacks, the folded ones too, and the oldest of them. */
export function lagOf(ledger: SinkLedger, pending: string[]): { count: number; oldest?: string } {
  const named = laggingSets(ledger, pending);
  const e = ledger.droppedEarlier;
  const all = e ? [e.oldest, ...named] : named;
  const oldest = all.reduce<string | undefined>(
    (a, k) => (a === undefined || setEnd(k) < setEnd(a) ? k : a),
    undefined,
  );
  return { count: named.length + (e?.count ?? 0), ...(oldest !== undefined ? { oldest } : {}) };
}

/**
 * No sink can get the whole current chain (each had some set of it dropped, not necessarily
 * the same one): no sink restores the next inc, the next run must be full.
 */
export function chainBrokenEverywhere(ledgers: SinkLedger[], chainKeys: string[]): boolean {
  if (ledgers.length === 0) return false;
  return ledgers.every((l) => chainKeys.some((k) => l.dropped.includes(k)));
}

/** The sink holds every set of the chain: none dropped for it, none still spooled for it. */
export function holdsChain(ledger: SinkLedger, chainKeys: string[], pending: string[]): boolean {
  return chainKeys.every((k) => hasConfirmed(ledger, k) || (!ledger.dropped.includes(k) && !pending.includes(k)));
}
