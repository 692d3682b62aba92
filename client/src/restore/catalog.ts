/**
 * What a host directory holds: its sets grouped and linked into chains (formats §3), read from
 * the names alone (and the sizes the listing gives, for `list`).
 */
import { UsageError } from '@deaddrop/common/errors';
import {
  groupSets,
  linkChains,
  parseSinkName,
  type BackupChain,
  type BackupSet,
  type SinkFileName,
} from '../format/names.js';
import type { RestoreSource } from './source.js';

export interface Catalog {
  /** Where the host directory is (path or URL), for messages. */
  dir: string;
  source: RestoreSource;
  /** Stored name → size. */
  sizes: Map<string, number>;
  chains: BackupChain[];
  /** Sets that belong to no chain (their start does not meet a chain's end), and killed fulls. */
  orphans: BackupSet[];
}

export async function readCatalog(source: RestoreSource): Promise<Catalog> {
  const sizes = await source.list();
  const parsed = [...sizes.keys()].map(parseSinkName).filter((n): n is SinkFileName => n !== undefined);
  // a set missing its manifest still takes its place in the chain, so restore can name what is missing
  const linked = linkChains(
    groupSets(parsed),
    (s) => s.manifest !== undefined || s.volumes.size > 0 || s.sums !== undefined,
  );
  return { dir: source.where, source, sizes, ...withoutKilledFulls(linked.chains, linked.orphans) };
}

/** A set that lacks its manifest, or (ours, encrypted) its sums file: its upload never finished. */
export function lacksFiles(s: BackupSet): boolean {
  const ours = [s.manifest, ...s.volumes.values()].some((f) => f?.encryption === 'cms');
  return s.manifest === undefined || (ours && s.sums === undefined);
}

/**
 * A full that lacks files and has no incrementals is a run that was cut (a killed `--full`);
 * when another chain has sets at or after its time, the runs after it continued that chain,
 * so it heads no chain (duplicity: an orphan) and cannot hide those sets from a restore.
 */
function withoutKilledFulls(chains: BackupChain[], orphans: BackupSet[]): Omit<Catalog, 'dir' | 'source' | 'sizes'> {
  const killed = chains.filter(
    (c) => c.incs.length === 0 && lacksFiles(c.full) && chains.some((o) => o !== c && o.endTime >= c.full.time),
  );
  return {
    chains: chains.filter((c) => !killed.includes(c)),
    orphans: [...orphans, ...killed.map((c) => c.full)].sort((a, b) => a.time - b.time),
  };
}

/** The sets to apply for time `t` (undefined: the latest): the chain's full, then its incrementals up to t. */
export function setsAt(catalog: Catalog, t: number | undefined): { chain: BackupChain; sets: BackupSet[] } {
  if (catalog.chains.length === 0) throw new UsageError(`${catalog.dir}: no backup chain found`);
  const candidates = catalog.chains.filter((c) => t === undefined || c.full.time <= t);
  if (candidates.length === 0) {
    const oldest = Math.min(...catalog.chains.map((c) => c.full.time));
    throw new UsageError(`no backup at or before ${iso(t!)} (the oldest is ${iso(oldest)})`);
  }
  // the chain whose newest set at or before t is newest (duplicity: get_backup_chain_at_time),
  // so chains that overlap in time (a legacy chain next to ours) give the newest state; on a
  // tie, the newer full (fewer sets to apply)
  const upTo = (c: BackupChain) => [c.full, ...c.incs.filter((s) => t === undefined || s.time <= t)];
  const reach = (c: BackupChain) => upTo(c)[upTo(c).length - 1]!.time;
  const chain = candidates.reduce((a, b) =>
    reach(b) > reach(a) || (reach(b) === reach(a) && b.full.time > a.full.time) ? b : a,
  );
  return { chain, sets: upTo(chain) };
}

/**
 * An incremental after `last` (the last set to apply) and at or before `t` that starts later
 * than `last` ends: the set(s) between them are missing, and the state it holds cannot be
 * restored. The earliest such set, or undefined.
 */
export function setAfterGap(catalog: Catalog, last: BackupSet, t: number | undefined): BackupSet | undefined {
  const beyond = catalog.orphans.filter(
    (o) => o.startTime !== undefined && o.startTime > last.time && (t === undefined || o.time <= t),
  );
  return beyond.sort((a, b) => a.time - b.time)[0];
}

export const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
