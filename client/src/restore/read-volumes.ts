/**
 * Read the volumes of a set that a restore needs (all of them, or those whose manifest range
 * covers the wanted paths), one after the other, each checked against the sums file and its
 * manifest SHA-1; entries go to `on.entry`, and `on.verified` runs once a volume checked out.
 */
import { DeaddropError } from '@deaddrop/common/errors';
import { volumeHash, type Manifest, type ManifestVolume } from '../format/manifest.js';
import { compareIndex, type PathIndex } from '../scan/path-index.js';
import { volumeEntries, type VolumeEntry } from './entries.js';
import type { KeySource } from './key.js';
import type { LoadedSet } from './load-set.js';
import { fileSha256, openPayload, TamperedError } from './payload.js';
import { SourceReadError, type RestoreSource } from './source.js';

/** duplicity's VolumeInfo.contains: start[:len(p)] <= p <= end. */
function covers(v: ManifestVolume, p: PathIndex): boolean {
  return compareIndex(v.start.slice(0, p.length), p) <= 0 && compareIndex(p, v.end) <= 0;
}

export function volumesFor(manifest: Manifest, paths: PathIndex[]): ManifestVolume[] {
  if (paths.length === 0) return manifest.volumes;
  return manifest.volumes.filter((v) => paths.some((p) => covers(v, p)));
}

/**
 * A failed volume: when the stored bytes differ from the sums file, say so (a clearer cause
 * than a decode error). Only when they could be read again and differ: a file that cannot be
 * read is not said to be tampered with, and one whose connection kept breaking is not
 * downloaded once more to find out.
 */
async function explain(err: unknown, source: RestoreSource, name: string, sha256: string | undefined): Promise<Error> {
  if (err instanceof TamperedError || err instanceof SourceReadError) return err;
  const stored = sha256 === undefined ? undefined : await fileSha256(source, name).catch(() => undefined);
  if (stored !== undefined && stored !== sha256) {
    const cause = (err as Error).message;
    // the file is named once
    const what = cause.startsWith(`${name}: `) ? cause.slice(name.length + 2) : cause;
    return new TamperedError(`${name}: SHA-256 differs from the sums file: tampered or corrupt (${what})`);
  }
  return err instanceof DeaddropError ? err : new DeaddropError(`${name}: ${(err as Error).message}`);
}

export interface VolumeHandlers {
  /** Each entry of a volume, in order. */
  entry(e: VolumeEntry, volume: string): Promise<void>;
  /** The volume's last entry handled: wait for what it wrote (its errors are the volume's). */
  written?(): Promise<void>;
  /** The volume checked out (after its last entry). */
  verified(volume: string): Promise<void>;
  /** Stored bytes read (progress). */
  stored?(bytes: number): void;
  /** `entry` is done with an entry's data when it returns (it copies what it keeps): buffers may be reused. */
  reuse?: boolean;
}

export async function readVolumes(
  source: RestoreSource,
  ls: LoadedSet,
  key: KeySource,
  paths: PathIndex[],
  on: VolumeHandlers,
): Promise<void> {
  for (const v of volumesFor(ls.manifest, paths)) {
    const file = ls.volumes.get(v.number)!;
    const sha256 = ls.sums.get(file.name);
    try {
      const expect = { sha256, hash: volumeHash(v) };
      const payload = await openPayload(source, file.name, key, expect, { onStored: on.stored, reuse: on.reuse });
      for await (const e of volumeEntries(payload, file.name)) await on.entry(e, file.name);
      await on.written?.();
    } catch (err) {
      throw await explain(err, source, file.name, sha256);
    }
    await on.verified(file.name);
  }
}
