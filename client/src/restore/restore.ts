/**
 * `deaddrop restore`: pick the sets for the time, check them, then lay the full set down and
 * apply each incremental, volume by volume, streaming (decrypt → gunzip → tar → files).
 * Writes only under DEST; staged content lives in DEST/.deaddrop-restore-* until its volume
 * is verified, and that directory is removed whatever happens.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '@deaddrop/common/errors';
import { setKey } from '../format/names.js';
import { bytesToIndex, indexToDisplay, isPrefixIndex, type PathIndex } from '../scan/path-index.js';
import { TreeApplier, type ApplyStats } from './apply.js';
import { iso, readCatalog, setsAt } from './catalog.js';
import { DestTree } from './dest-tree.js';
import type { KeySource } from './key.js';
import { loadSet, type LoadedSet } from './load-set.js';
import { ownersWhenRoot } from './metadata.js';
import { progressCounter, startProgress, type RestoreProgress } from './progress.js';
import { readVolumes } from './read-volumes.js';
import { openSource, type RestoreSource } from './source.js';

export interface RestoreOptions {
  /** DIR or URL (see source.ts). */
  from: string;
  host: string;
  /** With a URL: netrc file and https CA. */
  netrc?: string;
  ca?: string;
  key: KeySource;
  dest: string;
  /** Epoch seconds; undefined: the latest backup. */
  time?: number;
  /** Subtrees to restore (relative paths); empty: everything. */
  paths?: string[];
  force?: boolean;
  /** Volumes and stored bytes read so far (progress display; see progress.ts). */
  onProgress?: (p: RestoreProgress) => void;
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

async function prepareDest(dest: string, force: boolean | undefined): Promise<void> {
  await mkdir(dest, { recursive: true });
  const names = await readdir(dest);
  if (names.length > 0 && !force)
    throw new UsageError(
      `${dest}: not empty (${names.length} entries); restore into an empty directory or give --force`,
    );
}

export async function runRestore(o: RestoreOptions): Promise<RestoreReport> {
  const paths = (o.paths ?? []).map(pathArgument);
  const source = await openSource(o);
  try {
    return await restoreFrom(source, o, paths);
  } finally {
    source.close();
  }
}

async function restoreFrom(source: RestoreSource, o: RestoreOptions, paths: PathIndex[]): Promise<RestoreReport> {
  const started = Date.now();
  const wanted = (index: PathIndex) => paths.length === 0 || paths.some((p) => isPrefixIndex(p, index));
  const catalog = await readCatalog(source);
  const { sets } = setsAt(catalog, o.time);
  // every set is checked (complete, manifest readable with this key) before anything is written
  const loaded: LoadedSet[] = [];
  for (const s of sets) loaded.push(await loadSet(source, s, o.key));
  await prepareDest(o.dest, o.force);
  const staging = await mkdtemp(join(o.dest, '.deaddrop-restore-'));
  const applier = new TreeApplier(new DestTree(o.dest), staging, ownersWhenRoot());
  const volumes: string[] = [];
  const found = new Set<number>();
  const progress = progressCounter(
    startProgress(loaded, paths, catalog.sizes),
    o.onProgress,
    () => applier.stats.files,
  );
  try {
    for (const ls of loaded) {
      await readVolumes(source, ls, o.key, paths, {
        entry: async (e, volume) => {
          if (!wanted(e.index)) return;
          paths.forEach((p, i) => isPrefixIndex(p, e.index) && found.add(i));
          await applier.add(e, volume);
        },
        verified: async (volume) => {
          volumes.push(volume);
          applier.commit();
          progress.verified();
        },
        stored: progress.stored,
      });
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
  applier.finish();
  progress.done();
  const last = sets[sets.length - 1]!;
  return {
    host: o.host,
    from: source.where,
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
