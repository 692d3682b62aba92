/**
 * `deaddrop restore`: pick the sets for the time, check them, then lay the full set down and
 * apply each incremental, volume by volume, streaming (decrypt → gunzip → tar → files).
 * Writes only under DEST; staged content lives in DEST/.deaddrop-restore-* until its volume
 * is verified, and that directory is removed whatever happens.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DeaddropError, UsageError } from '@deaddrop/common/errors';
import { volumeSha1, type Manifest, type ManifestVolume } from '../format/manifest.js';
import { setKey } from '../format/names.js';
import { bytesToIndex, compareIndex, indexToDisplay, isPrefixIndex, type PathIndex } from '../scan/path-index.js';
import { TreeApplier, type ApplyStats } from './apply.js';
import { hostDirectory, iso, readCatalog, setsAt } from './catalog.js';
import { DestTree } from './dest-tree.js';
import { volumeEntries } from './entries.js';
import type { KeySource } from './key.js';
import { loadSet, type LoadedSet } from './load-set.js';
import { ownersWhenRoot } from './metadata.js';
import { fileSha256, openPayload, TamperedError } from './payload.js';

export interface RestoreOptions {
  from: string;
  host: string;
  key: KeySource;
  dest: string;
  /** Epoch seconds; undefined: the latest backup. */
  time?: number;
  /** Subtrees to restore (relative paths); empty: everything. */
  paths?: string[];
  force?: boolean;
}

export interface RestoreReport {
  host: string;
  from: string;
  to: string;
  time: string;
  sets: { set: string; time: string; volumes: number }[];
  volumesRead: number;
  volumes: string[];
  stats: ApplyStats;
  warnings: string[];
  seconds: number;
}

/** A --path argument as an index: `./a/b/` → [a, b]. */
export function pathArgument(p: string): PathIndex {
  const clean = p.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  const index = bytesToIndex(Buffer.from(clean));
  if (index.some((c) => c.length === 0 || c.toString() === '..' || c.toString() === '.'))
    throw new UsageError(`--path ${p}: give a path relative to the backup root, without . or .. parts`);
  return index;
}

/** duplicity's VolumeInfo.contains: start[:len(p)] <= p <= end. */
function covers(v: ManifestVolume, p: PathIndex): boolean {
  return compareIndex(v.start.slice(0, p.length), p) <= 0 && compareIndex(p, v.end) <= 0;
}

export function volumesFor(manifest: Manifest, paths: PathIndex[]): ManifestVolume[] {
  if (paths.length === 0) return manifest.volumes;
  return manifest.volumes.filter((v) => paths.some((p) => covers(v, p)));
}

async function prepareDest(dest: string, force: boolean | undefined): Promise<void> {
  await mkdir(dest, { recursive: true });
  const names = await readdir(dest);
  if (names.length > 0 && !force)
    throw new UsageError(
      `${dest}: not empty (${names.length} entries); restore into an empty directory or give --force`,
    );
}

/** A failed volume: when the stored bytes differ from the sums file, say so (a clearer cause than a decode error). */
async function explain(err: unknown, path: string, name: string, sha256: string | undefined): Promise<Error> {
  if (err instanceof TamperedError) return err;
  if (sha256 !== undefined && (await fileSha256(path).catch(() => undefined)) !== sha256)
    return new TamperedError(
      `${name}: SHA-256 differs from the sums file: tampered or corrupt (${(err as Error).message})`,
    );
  return err instanceof DeaddropError ? err : new DeaddropError(`${name}: ${(err as Error).message}`);
}

export async function runRestore(o: RestoreOptions): Promise<RestoreReport> {
  const started = Date.now();
  const paths = (o.paths ?? []).map(pathArgument);
  const wanted = (index: PathIndex) => paths.length === 0 || paths.some((p) => isPrefixIndex(p, index));
  const hostDir = await hostDirectory(o.from, o.host);
  const { sets } = setsAt(await readCatalog(hostDir), o.time);
  // every set is checked (complete, manifest readable with this key) before anything is written
  const loaded: LoadedSet[] = [];
  for (const s of sets) loaded.push(await loadSet(hostDir, s, o.key));
  await prepareDest(o.dest, o.force);
  const staging = await mkdtemp(join(o.dest, '.deaddrop-restore-'));
  const applier = new TreeApplier(new DestTree(o.dest), staging, ownersWhenRoot());
  const volumes: string[] = [];
  const found = new Set<number>();
  try {
    for (const ls of loaded) {
      for (const v of volumesFor(ls.manifest, paths)) {
        const file = ls.volumes.get(v.number)!;
        const path = join(hostDir, file.name);
        const sha256 = ls.sums.get(file.name);
        try {
          const payload = await openPayload(path, file.name, o.key, { sha256, sha1: volumeSha1(v) });
          for await (const e of volumeEntries(payload, file.name)) {
            if (!wanted(e.index)) continue;
            paths.forEach((p, i) => isPrefixIndex(p, e.index) && found.add(i));
            await applier.add(e, file.name);
          }
        } catch (err) {
          throw await explain(err, path, file.name, sha256);
        }
        volumes.push(file.name);
        await applier.commit();
      }
      await applier.endSet();
    }
    const absent = paths.filter((_, i) => !found.has(i)).map(indexToDisplay);
    if (absent.length) throw new UsageError(`not in the backup at that time: ${absent.join(', ')}`);
  } catch (err) {
    await applier.abort();
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  await rm(staging, { recursive: true, force: true });
  await applier.finish();
  const last = sets[sets.length - 1]!;
  return {
    host: o.host,
    from: hostDir,
    to: o.dest,
    time: iso(last.time),
    sets: loaded.map((l) => ({ set: setKey(l.set), time: iso(l.set.time), volumes: l.manifest.volumes.length })),
    volumesRead: volumes.length,
    volumes,
    stats: applier.stats,
    warnings: applier.warnings,
    seconds: (Date.now() - started) / 1000,
  };
}
