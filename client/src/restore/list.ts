/**
 * `deaddrop list`: the chains and sets of a host directory with their times, volumes and
 * stored sizes, and whether each set is complete: manifest, sums file for our encrypted sets,
 * and every volume the set should have. Those are the numbers up to the highest found, those
 * its sums file lists, and, for an unencrypted legacy set, those its manifest lists (both are
 * plaintext: no key needed), so a lost last volume shows too.
 */
import { parseManifest } from '../format/manifest.js';
import { parseDuplicityName, setKey, sumsFileNameOf, type BackupSet } from '../format/names.js';
import { parseSums } from '../format/sums.js';
import { iso, type Catalog } from './catalog.js';
import type { RestoreSource } from './source.js';

export interface ListedSet {
  set: string;
  type: 'full' | 'inc';
  time: string;
  startTime?: string;
  volumes: number;
  storedBytes: number;
  /** What is missing or damaged (`volume 3`, `manifest`, a sums file name, ...); empty for a complete set. */
  missing: string[];
}

export interface SetListing {
  host: string;
  dir: string;
  chains: { start: string; end: string; sets: ListedSet[] }[];
  orphans: ListedSet[];
}

/** The volume numbers the set's plaintext files (sums file, legacy manifest) list, and what is wrong with them. */
async function listedVolumes(source: RestoreSource, s: BackupSet): Promise<{ numbers: number[]; problems: string[] }> {
  const numbers: number[] = [];
  const problems: string[] = [];
  if (s.sums) {
    // a read error (e.g. the network) fails the listing; damage is reported on the set
    const text = (await source.readSmall(s.sums.name)).toString('utf8');
    try {
      for (const e of parseSums(text, s.sums.name)) {
        const n = parseDuplicityName(e.name);
        if (n?.file === 'volume') numbers.push(n.volume!);
      }
    } catch (err) {
      problems.push(`a valid sums file (${(err as Error).message})`);
    }
  }
  if (s.manifest && s.manifest.encryption === 'none' && !s.manifest.gzip) {
    const bytes = await source.readSmall(s.manifest.name);
    try {
      numbers.push(...parseManifest(bytes, s.manifest.name).volumes.map((v) => v.number));
    } catch (err) {
      problems.push(`a valid manifest (${(err as Error).message})`);
    }
  }
  return { numbers, problems };
}

async function describe(catalog: Catalog, s: BackupSet): Promise<ListedSet> {
  const files = [s.manifest, s.signatures, ...s.volumes.values(), s.sums].filter((f) => f !== undefined);
  let storedBytes = 0;
  for (const f of files) storedBytes += catalog.sizes.get(f.name) ?? 0;
  const missing: string[] = [];
  if (!s.manifest) missing.push('manifest');
  const { numbers, problems } = await listedVolumes(catalog.source, s);
  missing.push(...problems);
  const top = Math.max(0, ...s.volumes.keys(), ...numbers);
  const expected = new Set([...numbers, ...Array.from({ length: top }, (_, i) => i + 1)]);
  for (const n of [...expected].sort((a, b) => a - b)) if (!s.volumes.has(n)) missing.push(`volume ${n}`);
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
    for (const s of [c.full, ...c.incs]) sets.push(await describe(catalog, s));
    chains.push({ start: iso(c.full.time), end: iso(c.endTime), sets });
  }
  const orphans = [];
  for (const s of catalog.orphans) orphans.push(await describe(catalog, s));
  return { host, dir: catalog.dir, chains, orphans };
}
