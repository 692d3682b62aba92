/**
 * One set ready to restore: its sums file (ours; legacy sets have none), its manifest decrypted
 * and checked, and every volume the manifest lists present on disk. A set that lacks any of
 * them, or whose manifest lists no volume, is refused as incomplete with the names at fault.
 */
import { DeaddropError } from '@deaddrop/common/errors';
import { NoVolumeError, parseManifest, type Manifest } from '../format/manifest.js';
import { parseDuplicityName, setKey, sumsFileNameOf, type BackupSet, type DuplicityFileName } from '../format/names.js';
import { parseSums } from '../format/sums.js';
import type { KeySource } from './key.js';
import { openPayload } from './payload.js';
import { withoutFilelist } from './without-filelist.js';
import type { RestoreSource } from './source.js';

export interface LoadedSet {
  set: BackupSet;
  manifest: Manifest;
  /** Volume files by number, as the manifest lists them. */
  volumes: Map<number, DuplicityFileName>;
  /** SHA-256 of each stored file from the sums file; empty for legacy sets. */
  sums: Map<string, string>;
}

/** A set that lacks a file (its upload was cut or is still going on): pick-sets.ts may leave it out. */
export class IncompleteSetError extends DeaddropError {
  constructor(
    readonly set: BackupSet,
    message: string,
  ) {
    super(message);
    this.name = 'IncompleteSetError';
  }
}

export async function loadSet(source: RestoreSource, set: BackupSet, key: KeySource): Promise<LoadedSet> {
  const label = `set ${setKey(set)}`;
  const sums = new Map<string, string>();
  if (set.sums) {
    const text = (await source.readSmall(set.sums.name)).toString('utf8');
    for (const e of parseSums(text, set.sums.name)) sums.set(e.name, e.sha256);
  }
  const ours = [set.manifest, ...set.volumes.values()].some((f) => f?.encryption === 'cms');
  if (ours && !set.sums)
    throw new IncompleteSetError(set, `${label} is incomplete: its sums file ${sumsFileNameOf(set)} is missing`);
  // the sums file names every file of the set: a listed manifest or volume that is absent is missing
  const missing: string[] = [];
  for (const name of sums.keys()) {
    const n = parseDuplicityName(name);
    if (!n || n.file === 'signatures') continue;
    const have = n.file === 'manifest' ? set.manifest : set.volumes.get(n.volume!);
    if (have?.name !== name) missing.push(name);
  }
  if (!set.manifest) missing.push('its manifest');
  if (missing.length) throw new IncompleteSetError(set, `${label} is incomplete: missing ${missing.join(', ')}`);
  const manifestName = set.manifest!.name;
  if (ours) requireListed(set, sums, [manifestName]);
  const manifest = readManifest(
    set,
    await withoutFilelist(await openPayload(source, manifestName, key, { sha256: sums.get(manifestName) })),
    manifestName,
  );
  const volumes = new Map<number, DuplicityFileName>();
  for (const v of manifest.volumes) {
    const f = set.volumes.get(v.number);
    if (f) volumes.set(v.number, f);
    else missing.push(`volume ${v.number}`);
  }
  if (missing.length)
    throw new IncompleteSetError(
      set,
      `${label} is incomplete: missing ${missing.join(', ')} (listed in ${manifestName})`,
    );
  if (ours)
    requireListed(
      set,
      sums,
      [...volumes.values()].map((f) => f.name),
    );
  return { set, manifest, volumes, sums };
}

/**
 * The set's manifest. One that lists no volume was cut short or emptied (a legacy set has no
 * sums file to tell): the set is incomplete, like one missing a file, never a set without changes.
 */
function readManifest(set: BackupSet, text: Buffer, name: string): Manifest {
  try {
    return parseManifest(text, name);
  } catch (err) {
    if (err instanceof NoVolumeError)
      throw new IncompleteSetError(set, `set ${setKey(set)} is incomplete: its manifest ${name} lists no volume`);
    throw err;
  }
}

/**
 * Our sums file lists every file of its set: one it leaves out would be read unchecked by
 * SHA-256 (an emptied sums file would disable the check), so that is damage, not an old format.
 */
function requireListed(set: BackupSet, sums: Map<string, string>, names: string[]): void {
  const unlisted = names.filter((n) => !sums.has(n));
  if (unlisted.length)
    throw new DeaddropError(`set ${setKey(set)}: its sums file ${set.sums!.name} does not list ${unlisted.join(', ')}`);
}
