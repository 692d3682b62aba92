/**
 * `deaddrop restore`: pick the sets for the time, check them, then lay the full set down and
 * apply each incremental, volume by volume, streaming (decrypt → gunzip → tar → files).
 * Writes only under DEST; staged content lives in DEST/.deaddrop-restore-* until its volume
 * is verified (into a DEST that held something, the whole tree does until the end: see
 * DestMode). That directory is removed at the end, on an error and on SIGINT/SIGTERM/SIGHUP;
 * one left by a run killed outright is removed by the next restore into the same DEST, which
 * a lock file keeps to one restore at a time.
 */
import { rmSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { DeaddropError, describeError, exitCodeOf, UsageError } from '@deaddrop/common/errors';
import { acquirePidLock, type PidLock } from '@deaddrop/common/pid-lock';
import { TarType } from '../archive/tar-header.js';
import { setKey } from '../format/names.js';
import { isPrefixIndex, joinIndex, type PathIndex } from '../scan/path-index.js';
import { TreeApplier, type ApplyStats } from './apply.js';
import { iso, readCatalog } from './catalog.js';
import { whatDestHolds, type AfterSets, type DestProgress } from './dest-left.js';
import {
  checkOurs,
  checkSameRestore,
  isReservedName,
  isStagingName,
  LOCK,
  MERGING,
  readMarker,
  removeMarker,
  restoringText,
  STAGING_PREFIX,
  UNFINISHED,
  writeMarker,
} from './dest-marker.js';
import { DestTree } from './dest-tree.js';
import type { KeySource } from './key.js';
import type { VolumeEntry } from './entries.js';
import { ownersWhenRoot } from './metadata.js';
import type { LoadedSet } from './load-set.js';
import { TamperedError } from './payload.js';
import { loadSetsAt } from './pick-sets.js';
import { progressCounter, startProgress, type RestoreProgress } from './progress.js';
import { readVolumes } from './read-volumes.js';
import { showBytes, showIndex } from './show-bytes.js';
import { openSource, type RestoreSource } from './source.js';
import { parsePathArgument, rootedPaths, setsRoot, type PathArgument } from './path-arguments.js';

export interface RestoreOptions {
  /** DIR or URL (see source.ts). */
  from: string;
  host: string;
  /** With a URL: netrc file and https CA. */
  netrc?: string;
  ca?: string;
  /** Debug-level messages (--verbose). */
  debug?: (message: string) => void;
  key: KeySource;
  dest: string;
  /** Epoch seconds; undefined: the latest backup. */
  time?: number;
  /** Subtrees to restore (path-arguments.ts: relative to the backup root, or absolute under it); empty: everything. */
  paths?: string[];
  force?: boolean;
  /** DEST is the caller's temporary directory (verify): errors need not say what it holds. */
  scratch?: boolean;
  /** Volumes and stored bytes read so far (progress display; see progress.ts). */
  onProgress?: (p: RestoreProgress) => void;
  /**
   * The sets' backup root (undefined: they name none, or several), once their manifests are
   * read and before DEST is touched; it may throw to stop the restore (verify's --config).
   */
  onRoot?: (root: Buffer | undefined) => void;
}

export interface RestoreReport {
  host: string;
  from: string;
  to: string;
  time: string;
  sets: { set: string; time: string; volumes: number }[];
  /** The backup root the restored tree stands for (the sets' Localdir), if they name one. */
  root?: string;
  /** The --path arguments, relative to the backup root (an absolute one mapped by the sets' Localdir). */
  paths: string[];
  volumesRead: number;
  volumes: string[];
  stats: ApplyStats;
  warnings: string[];
  seconds: number;
}

/** --to must be a directory (a symlink to one will do) or not exist yet: a usage error else, before anything is read. */
async function checkDest(dest: string): Promise<void> {
  const st = await stat(dest).catch((err: NodeJS.ErrnoException) => err);
  if (!(st instanceof Error)) {
    if (!st.isDirectory()) throw new UsageError(`--to ${dest}: not a directory`);
  } else if (st.code === 'ENOTDIR') throw new UsageError(`--to ${dest}: a parent is not a directory`);
  else if (st.code === 'ENOENT' && (await lstat(dest).catch(() => undefined))?.isSymbolicLink())
    throw new UsageError(`--to ${dest}: a dangling symlink`);
}

/** DEST (made if missing), locked for this restore. */
async function lockDest(dest: string): Promise<PidLock> {
  await mkdir(dest, { recursive: true });
  await checkOurs(join(dest, LOCK), 'lock');
  return acquirePidLock(join(dest, LOCK), `another restore into ${dest}`);
}

/**
 * How the sets reach DEST. `fresh`: DEST held nothing, they are applied in place. `resume`
 * (--force): DEST holds only what a restore of the same state that did not finish put there
 * (checkSameRestore), patched in place as that one would have gone on. `merge` (--force): DEST holds other content, which no set
 * before the chosen time may delete or replace: the sets are applied to a tree of their own
 * and only the state at the chosen time is merged into DEST.
 */
type DestMode = 'fresh' | 'resume' | 'merge';

/**
 * With DEST locked: refuse a DEST that holds anything (but what restores leave) unless --force,
 * then remove the staging directories left by restores killed before they could (SIGKILL).
 * `marked`: DEST is marked unfinished from the start (resume, or a merge that did not finish).
 */
async function prepareDest(
  dest: string,
  force: boolean | undefined,
  restoring: string,
  warnings: string[],
): Promise<{ mode: DestMode; marked: boolean }> {
  const entries = await readdir(dest, { withFileTypes: true });
  const stale = entries.filter((e) => e.isDirectory() && isStagingName(e.name)).map((e) => e.name);
  const marker = await readMarker(dest);
  const unfinished = marker !== undefined;
  // a marker that cannot be read, or is cut short, reads as a merge's (readMarker)
  const merging = unfinished && marker.startsWith('merge:');
  const held = entries.filter((e) => e.name !== UNFINISHED && e.name !== LOCK && !stale.includes(e.name));
  if (held.length > 0 && !force)
    throw new UsageError(
      `${dest}: not empty (${held.length} entries); restore into an empty directory or give --force`,
    );
  for (const name of stale) {
    await rm(join(dest, name), { recursive: true, force: true });
    warnings.push(`${join(dest, name)}: removed the staging directory of an interrupted restore`);
  }
  // a marker of neither kind (not of ours) is taken as a merge's too
  const resuming = unfinished && marker.startsWith('restore:');
  const mode = held.length === 0 ? 'fresh' : resuming ? 'resume' : 'merge';
  if (mode === 'resume') checkSameRestore(dest, marker!, restoring);
  if (mode === 'fresh') await writeMarker(dest, restoring);
  return { mode, marked: mode !== 'merge' || merging };
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Until the returned function is called, SIGINT, SIGTERM and SIGHUP remove the staging
 * directory and exit 128 + the signal's number (the shell's convention): a staged file is
 * only ever half of one, and it must not stay in DEST. `holds` says what DEST holds then.
 */
/**
 * Remove the staging directory while the thread pool may still be making files in it (the
 * batches under way, restore/stage-files.ts: milliseconds): a file made in a directory rmSync
 * has just emptied fails its rmdir (ENOTEMPTY), so the whole removal is tried again.
 */
function removeWhilePoolEnds(staging: string): void {
  for (let tries = 1; ; tries++) {
    try {
      return rmSync(staging, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' || tries === 200) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10); // a signal handler: no await
    }
  }
}

function removeOnSignal(staging: string, lock: PidLock, holds: () => string): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    removeWhilePoolEnds(staging);
    rmSync(lock.path, { force: true });
    process.stderr.write(`\ndeaddrop: restore interrupted (${signal}): ${holds()}\n`);
    process.exit(128 + constants.signals[signal]);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return () => SIGNALS.forEach((s) => process.off(s, onSignal));
}

/**
 * A --path under a directory that a later set deleted leaves that directory, made empty, in
 * the restored tree: remove the empty directories above each absent path, up to one of the
 * restored state (an empty directory in the backup, or restored by another --path).
 */
async function removeEmptyParents(root: string, paths: PathIndex[], restored: (rel: Buffer) => boolean): Promise<void> {
  // reached from the root through real directories only: a symlink the restore put on the
  // way (the backup's) would take the removal outside DEST
  const tree = new DestTree(root);
  for (const p of paths)
    for (let n = p.length - 1; n > 0; n--) {
      const rel = joinIndex(p.slice(0, n));
      if (restored(rel) || !tree.parents(rel, false) || !tree.stat(rel)?.isDirectory()) break;
      const dir = tree.pathOf(rel);
      if ((await readdir(dir)).length > 0) break;
      await rmdir(dir);
      tree.forget();
    }
}

/**
 * The backup's entry for a directory above a --path (not its root: DEST's root is not the
 * backup's there), restored for its mode, mtime and owner: see TreeApplier.addParent.
 */
function isParentDir(e: VolumeEntry, paths: PathIndex[]): boolean {
  if (e.kind !== 'snapshot' || e.header.type !== TarType.DIR || e.index.length === 0) return false;
  return paths.some((p) => p.length > e.index.length && isPrefixIndex(e.index, p));
}

/** Host names alike: the same, or one the other's first label (a manifest holds the machine's name, maybe short). */
function sameHost(a: string, b: string): boolean {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  return x === y || (!x.includes('.') && y.split('.')[0] === x) || (!y.includes('.') && x.split('.')[0] === y);
}

/**
 * --from the host directory itself, named otherwise than --host (a copy, or another host's
 * directory): its sets must be --host's by their manifests' Hostname, else another host's
 * files would be restored as --host's. Manifests without a Hostname cannot tell: accepted.
 */
function checkHost(source: RestoreSource, host: string, loaded: LoadedSet[]): void {
  if (source.dirName === undefined || source.dirName === host) return;
  const names = [...new Set(loaded.flatMap((l) => l.manifest.hostname ?? []))];
  if (names.length === 0 || names.some((n) => sameHost(n, host))) return;
  throw new UsageError(
    `--from ${source.where}: a host directory named ${source.dirName}, of ${names.join(', ')} by its sets' ` +
      `manifests (Hostname), not of --host ${host}: check --from and --host (--from a sink root takes ROOT/${host}/)`,
  );
}

/** What a failed restore had to say before it failed (e.g. a staging directory removed): see warningsBefore. */
const warnedBefore = new WeakMap<object, string[]>();

/** The warnings of a restore that then failed with `err`, to print with the error. */
export function warningsBefore(err: unknown): string[] {
  return (typeof err === 'object' && err !== null && warnedBefore.get(err)) || [];
}

export async function runRestore(o: RestoreOptions): Promise<RestoreReport> {
  const paths = (o.paths ?? []).map(parsePathArgument);
  await checkDest(o.dest);
  const source = await openSource(o);
  const warnings: string[] = [];
  try {
    return await restoreFrom(source, o, paths, warnings);
  } catch (err) {
    if (warnings.length && typeof err === 'object' && err !== null) warnedBefore.set(err, warnings);
    throw err;
  } finally {
    source.close();
  }
}

async function restoreFrom(
  source: RestoreSource,
  o: RestoreOptions,
  args: PathArgument[],
  warnings: string[],
): Promise<RestoreReport> {
  const started = Date.now();
  const catalog = await readCatalog(source);
  // every set is checked (complete, manifest readable with this key) before anything is written
  const picked = await loadSetsAt(catalog, o.time, o.key);
  warnings.push(...picked.warnings);
  const { loaded } = picked;
  checkHost(source, o.host, loaded);
  const paths = rootedPaths(args, loaded);
  const named = setsRoot(loaded);
  const root = 'root' in named ? named.root : undefined;
  o.onRoot?.(root);
  const lock = await lockDest(o.dest);
  let released: Promise<void> | undefined;
  // once: after it another restore may hold a lock of that name
  const release = () => (released ??= lock.release());
  let applied: Applied;
  try {
    applied = await applySets(source, o, paths, loaded, catalog.sizes, lock, warnings);
    await finish(applied, o, release);
  } finally {
    await release();
  }
  const { applier, volumes, absent } = applied;
  applied.progress.done();
  if (absent.length) {
    const given = absent.map((p) => args[paths.indexOf(p)]!.given); // as typed: an absolute one as the host's path
    throw new DeaddropError(`not in the backup at that time: ${given.join(', ')}`);
  }
  const last = loaded[loaded.length - 1]!.set;
  return {
    host: o.host,
    from: source.where,
    to: o.dest,
    time: iso(last.time),
    sets: loaded.map((l) => ({ set: setKey(l.set), time: iso(l.set.time), volumes: l.manifest.volumes.length })),
    root: root && showBytes(root),
    paths: paths.map(showIndex),
    volumesRead: volumes.length,
    volumes,
    stats: applier.stats,
    warnings: [...warnings, ...applier.warnings],
    seconds: (Date.now() - started) / 1000,
  };
}

/**
 * The paths that were there are restored whole, directory attributes included. DEST stays
 * marked unfinished and locked (and a signal says so) until they are: a restore killed while
 * setting them leaves the marker, for a rerun (--force) to resume. The marker and the lock go
 * only then; finish() sets the root's mtime once more, which their removal changed.
 */
async function finish(applied: Applied, o: RestoreOptions, release: () => Promise<void>): Promise<void> {
  try {
    await applied.applier.finish(async () => {
      await signalsPending();
      applied.stopSignals();
      await removeMarker(o.dest);
      await release();
    });
  } catch (err) {
    if (o.scratch) throw err;
    throw new DeaddropError(`${describeError(err)}; ${whatDestHolds(applied.left)}`, exitCodeOf(err), { cause: err });
  } finally {
    applied.stopSignals();
  }
}

/**
 * A signal that came while finish() set the directories' attributes (synchronous calls) is
 * handled only when the event loop next polls: let it, so that the signal ends the restore
 * while DEST is still marked (its handler gone, it would be lost). Two turns: the first
 * setImmediate may run in the check phase right after the poll phase under way.
 */
async function signalsPending(): Promise<void> {
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Whether an entry is one of the backup's at its root under a name the restore keeps for its
 * own use (isReservedName), or below it: not restored, with a warning that names it (once: a
 * multivol file comes in chunks, a directory with its contents). Its deletion by a later set
 * is skipped too: it would remove ours.
 */
function skipReserved(warnings: string[]): (e: VolumeEntry) => boolean {
  const warned = new Set<string>();
  return (e) => {
    if (e.index.length === 0 || !isReservedName(e.index[0]!.toString('latin1'))) return false;
    const name = showIndex(e.index.slice(0, 1)); // and what is below it
    if (e.kind !== 'deleted' && !warned.has(name)) {
      warned.add(name);
      warnings.push(`${name}: not restored: a name at the backup's root that is reserved for the restore's own use`);
    }
    return true;
  };
}

interface Applied {
  applier: TreeApplier;
  /** What DEST holds while finish() runs: see whatDestHolds. */
  left: DestProgress;
  /** SIGINT, SIGTERM and SIGHUP no longer end the restore saying what DEST holds (see removeOnSignal). */
  stopSignals: () => void;
  volumes: string[];
  /** The --path arguments not in the backup at that time. */
  absent: PathIndex[];
  progress: ReturnType<typeof progressCounter>;
}

/**
 * With DEST locked: every set applied, all but the directory attributes (finish()). DEST is
 * still marked unfinished then, and a signal still ends the restore saying so: `stopSignals`.
 */
async function applySets(
  source: RestoreSource,
  o: RestoreOptions,
  paths: PathIndex[],
  loaded: LoadedSet[],
  sizes: Map<string, number>,
  lock: PidLock,
  warnings: string[],
): Promise<Applied> {
  const wanted = (index: PathIndex) => paths.length === 0 || paths.some((p) => isPrefixIndex(p, index));
  const dest = await prepareDest(o.dest, o.force, restoringText(o.host, loaded, paths), warnings);
  const { mode } = dest;
  const staging = await mkdtemp(join(o.dest, STAGING_PREFIX));
  const tree = mode === 'merge' ? join(staging, 'tree') : o.dest;
  if (tree !== o.dest) await mkdir(tree);
  /** Every set applied: the step after them under way. */
  let step: AfterSets | undefined;
  let nthSet = 0;
  const volumes: string[] = [];
  const left = (): DestProgress => ({
    dest: o.dest,
    mode,
    marker: dest.marked ? join(o.dest, UNFINISHED) : undefined,
    volumes: volumes.length,
    setsDone: nthSet,
    lastDone: nthSet > 0 ? loaded[nthSet - 1]!.set.time : undefined,
  });
  const holds = (): string => whatDestHolds({ ...left(), step });
  const stopSignals = removeOnSignal(staging, lock, holds);
  let applied = false;
  // resume: DEST holds objects of an earlier run, which the sets replace (and must uncount)
  const applier = new TreeApplier(new DestTree(tree), staging, ownersWhenRoot(), mode !== 'resume');
  // per --path: there after the last entry that bears on it (the sets before may have held
  // it): an entry at or below it puts it there, a deleted entry for it or a parent removes it
  const present = new Map<number, boolean>();
  const progress = progressCounter(startProgress(loaded, paths, sizes), o.onProgress, () => applier.stats.files);
  const absent = () => paths.filter((_, i) => present.get(i) !== true);
  const reserved = skipReserved(warnings);
  try {
    for (const ls of loaded) {
      await readVolumes(source, ls, o.key, paths, {
        entry: async (e, volume) => {
          paths.forEach((p, i) => {
            if (e.kind === 'deleted') {
              if (isPrefixIndex(e.index, p)) present.set(i, false);
            } else if (isPrefixIndex(p, e.index)) present.set(i, true);
          });
          if (wanted(e.index)) {
            if (!reserved(e)) await applier.add(e, volume);
          } else if (isParentDir(e, paths) && !reserved(e)) await applier.addParent(e, volume);
        },
        written: () => applier.written(),
        verified: async (volume) => {
          await applier.commit();
          volumes.push(volume);
          progress.verified();
        },
        stored: progress.stored,
        reuse: true, // applier.add copies what it keeps (apply.ts)
      });
      await applier.endSet();
      nthSet++;
    }
    step = 'settle';
    if (mode === 'merge' || absent().length) applier.settle();
    // a DEST that held something keeps its own empty directories
    step = 'parents';
    if (absent().length && mode !== 'resume')
      await removeEmptyParents(tree, absent(), (rel) => applier.isRestoredDir(rel));
    if (mode === 'merge') {
      // DEST is about to be half its own, half restored: marked so until the end
      step = 'mark';
      await writeMarker(o.dest, MERGING);
      step = 'merge';
      dest.marked = true;
      applier.mergeInto(new DestTree(o.dest));
    }
    step = 'finish';
    applied = true;
  } catch (err) {
    await applier.abort();
    if (mode === 'fresh' && volumes.length === 0) await removeMarker(o.dest);
    if (o.scratch) throw err;
    // say what DEST holds now; a damaged file: where it came from, and where else to find it
    const damaged =
      err instanceof TamperedError ? `, in --from ${source.where}: take that file from the other sink` : '';
    throw new DeaddropError(`${describeError(err)}${damaged}; ${holds()}`, exitCodeOf(err), { cause: err });
  } finally {
    try {
      await rm(staging, { recursive: true, force: true });
    } finally {
      if (!applied) stopSignals();
    }
  }
  return { applier, left: { ...left(), step }, volumes, absent: absent(), progress, stopSignals };
}
