/**
 * `deaddrop list`: the chains and sets of a host directory with their times, volumes and
 * stored sizes (from names and file sizes: no key needed), and whether each set is complete
 * as far as names tell (manifest, volumes 1..N, sums file for our encrypted sets).
 */
import { setKey, sumsFileNameOf, type BackupSet } from '../format/names.js';
import { iso, type Catalog } from './catalog.js';

export interface ListedSet {
  set: string;
  type: 'full' | 'inc';
  time: string;
  startTime?: string;
  volumes: number;
  storedBytes: number;
  /** What the names show missing; empty for a complete set. */
  missing: string[];
}

export interface SetListing {
  host: string;
  dir: string;
  chains: { start: string; end: string; sets: ListedSet[] }[];
  orphans: ListedSet[];
}

function describe(sizes: Map<string, number>, s: BackupSet): ListedSet {
  const files = [s.manifest, s.signatures, ...s.volumes.values(), s.sums].filter((f) => f !== undefined);
  let storedBytes = 0;
  for (const f of files) storedBytes += sizes.get(f.name) ?? 0;
  const missing: string[] = [];
  if (!s.manifest) missing.push('manifest');
  const top = Math.max(0, ...s.volumes.keys());
  for (let n = 1; n <= top; n++) if (!s.volumes.has(n)) missing.push(`volume ${n}`);
  if (top === 0) missing.push('volumes');
  const encrypted = [s.manifest, ...s.volumes.values()].some((f) => f?.encryption === 'cms');
  if (encrypted && !s.sums) missing.push(sumsFileNameOf(s));
  return {
    set: setKey(s),
    type: s.set,
    time: iso(s.time),
    ...(s.startTime !== undefined ? { startTime: iso(s.startTime) } : {}),
    volumes: s.volumes.size,
    storedBytes,
    missing,
  };
}

export async function listSets(catalog: Catalog, host: string): Promise<SetListing> {
  const chains = [];
  for (const c of catalog.chains) {
    const sets = [];
    for (const s of [c.full, ...c.incs]) sets.push(describe(catalog.sizes, s));
    chains.push({ start: iso(c.full.time), end: iso(c.endTime), sets });
  }
  const orphans = [];
  for (const s of catalog.orphans) orphans.push(describe(catalog.sizes, s));
  return { host, dir: catalog.dir, chains, orphans };
}
