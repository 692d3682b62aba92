/**
 * One `deaddrop backup` run: lock, decide full or incremental, write the set (volumes,
 * signature archive, manifest, sums file) into `outgoing/<set>/`, keep the plaintext manifest
 * and signatures in the local cache, record the chain in the state, then deliver.
 *
 * Crash safety: the state names a set only after all its files (sums file last) are complete
 * on local disk, so a killed run leaves an outgoing directory without a state entry; the next
 * run deletes it and writes a new set (on a sink, such a set has no sums file: visibly
 * incomplete). A set recorded but not yet delivered everywhere is delivered again next run;
 * without a usable state the complete spooled sets are kept and delivered (leftovers.ts).
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { syncDir, syncFile } from '@deaddrop/common/fs';
import { ConfigError, DeaddropError, describeError, ExitCode, UsageError } from '@deaddrop/common/errors';
import type { ClientConfig } from '@deaddrop/common/config/client';
import type { Logger } from '@deaddrop/common/log';
import { loadRecipients, recipientWarnings, type Recipient } from '@deaddrop/keys/recipients';
import { formatSums } from '../format/sums.js';
import { loadOwnerNames } from '../scan/owners.js';
import { canonicalPath, makeSelection, type Selection } from '../scan/select.js';
import { walkTree, type ScanProblem } from '../scan/walk.js';
import { countScan, type ScanProgress } from '../ops/scan-progress.js';
import { UploadMeter, type UploadProgress } from '../ops/upload-progress.js';
import type { SinkTargetLike } from '../transport/file-target.js';
import { foldDropped, hasConfirmed, readLedger, writeLedger, type SinkLedger } from '../transport/ledger.js';
import { chainBrokenEverywhere, holdsChain, lagOf, laggingSets, settleSpool } from '../transport/spool.js';
import { targetsFor } from '../transport/targets.js';
import { deliverSets, readOutgoingSet, type OutgoingSet, type SinkDelivery } from './deliver.js';
import { EarlyUpload, type SentAhead } from './early-upload.js';
import type { EntryStats } from './entry-stats.js';
import type { EntryProblem } from './entry-writer.js';
import { cacheFileDamage } from './cache-files.js';
import { createJobPool } from './job-pool.js';
import { writeEntriesParallel } from './parallel-writer.js';
import { readSentEverywhere } from './sent-everywhere.js';
import { warnIfShortOfSpace } from './space-check.js';
import { abandonSet, cleanLeftovers, completeSpooledSets, describeLeftovers, setKeyEnd } from './leftovers.js';
import { acquireLock } from './lock.js';
import { ManifestWriter } from './manifest-writer.js';
import { mergedSignatures } from './old-signatures.js';
import { planActions } from './plan.js';
import { setNames, type SetNames } from './set-files.js';
import { freeSetTime, setTimesOnSinks, shortWaitFor, waitUntilAfter } from './set-time.js';
import { SigtarWriter } from './sigtar-writer.js';
import { SpoolChecks } from './spool-checks.js';
import { EncryptedFileWriter, type StoredFile } from './encrypted-file.js';
import { chainEnd, loadState, writeState, type BackupState, type ChainSet, type RunRecord } from './state.js';
import { VolumeWriter } from './volume-writer.js';
import { untilAborted } from '../ops/interrupt.js';

export type BackupMode = 'auto' | 'full' | 'incremental';

export interface BackupRunOptions {
  config: ClientConfig;
  /** The config file (named in configuration errors). */
  configFile: string;
  mode: BackupMode;
  dryRun?: boolean;
  /** Overrides config.volumeSize. */
  volumeSize?: number;
  log: Logger;
  /** Delivery targets; default: one per configured sink. */
  targets?: SinkTargetLike[];
  /** Files and bytes walked so far (progress display; see ops/progress.ts). */
  onProgress?: (p: ScanProgress) => void;
  /** Files and bytes uploaded so far (progress display; see ops/upload-progress.ts). */
  onUploadProgress?: (p: UploadProgress) => void;
  /**
   * Aborted by a signal (ops/interrupt.ts): the run stops at its next step and records itself
   * as failed. A state write under way is finished first, so the run never says both.
   */
  signal?: AbortSignal;
}

export interface Problem {
  kind: string;
  path: string;
  message: string;
}

export interface BackupRunResult {
  result: 'ok' | 'degraded' | 'failed' | 'dry-run';
  exitCode: number;
  type: 'full' | 'inc';
  set?: string;
  time: string;
  startTime?: string;
  localdir: string;
  volumes: number;
  files: { name: string; size: number; sha256: string }[];
  storedBytes: number;
  stats: EntryStats | { new: number; changed: number; deleted: number };
  problems: Problem[];
  /** Per sink: files created/existing, bytes uploaded, sets confirmed and still lacking. */
  delivery?: Record<string, SinkDelivery>;
  /** Bytes waiting in the spool (outgoing/) for some sink after this run. */
  spoolBytes: number;
  seconds: number;
}

/** Problems listed in the result (all are logged). */
const MAX_LISTED_PROBLEMS = 1000;
/**
 * Deflate level for compressible data. A full set is mostly CPU: level 2, which on the bench's
 * logs deflates 4-6% smaller than level 1 for 6-7% more deflate time (64 MiB of each log in
 * 1 MiB members). An incremental is small and kept for the whole chain: level 8. In the 1 GiB
 * bench's daily set that is 58 KB (0.4%) less than level 6, for ~0.2 s more CPU in the
 * workers, who mostly wait for the scan. Duplicity deflates at level 6, one stream per volume.
 * (Where the igzip addon is built, a worker's level 2 is igzip's 2: gzip-member.ts.)
 */
const LEVEL_FULL = 2;
const LEVEL_INC = 8;

const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

/**
 * Every source is a directory named by its real path: the walk lstat()s, so a root reached
 * through a symlink would be stored as a bare link and its contents silently left out.
 */
async function checkSources(sel: Selection, config: ClientConfig, configFile: string): Promise<void> {
  for (const [i, s] of config.sources.entries()) {
    const st = await stat(s).catch(() => undefined);
    if (!st) throw new ConfigError(configFile, `sources[${i}]`, `${s}: no such directory`);
    if (!st.isDirectory()) throw new ConfigError(configFile, `sources[${i}]`, `${s}: not a directory`);
    const real = await realpath(s);
    if (real !== canonicalPath(s))
      throw new ConfigError(configFile, `sources[${i}]`, `${s} leads through a symlink to ${real}; list the real path`);
  }
  const root = await stat(sel.root).catch(() => undefined);
  if (!root?.isDirectory()) throw new ConfigError(configFile, 'sources', `${sel.root}: not a directory`);
}

/**
 * What the run backs up. The archive dir is left out as written and by its real path (a real
 * run has made it by now; a dry run's may not exist): the walk sees real paths, and a symlink
 * may lead to it from inside a source.
 */
async function selectionFor(config: ClientConfig, archiveDir: string): Promise<Selection> {
  const real = await realpath(archiveDir).catch(() => archiveDir);
  return makeSelection(config.sources, config.exclude, [archiveDir, real]);
}

const MIN_VOLUME_SIZE = 64 * 1024;

/** The volume size (--volume-size over volumeSize); too small names where it came from. */
function checkedVolumeSize(opts: BackupRunOptions, config: ClientConfig, configFile: string): number {
  const size = opts.volumeSize ?? config.volumeSize;
  if (size >= MIN_VOLUME_SIZE) return size;
  const problem = `${size} bytes is too small (at least 64KiB)`;
  if (opts.volumeSize !== undefined) throw new UsageError(`--volume-size: ${problem}`);
  throw new ConfigError(configFile, 'volumeSize', problem);
}

async function loadRecipientsFor(config: ClientConfig, configFile: string, log: Logger): Promise<Recipient[]> {
  let recipients: Recipient[];
  try {
    recipients = await loadRecipients(config.recipients);
  } catch (err) {
    throw new ConfigError(configFile, 'recipients', describeError(err));
  }
  // an expired or CA certificate still decrypts: a warning every night, not a failed backup
  for (const w of recipientWarnings(recipients)) log.warn(w);
  return recipients;
}

/**
 * Why the state's chain cannot go on where the config now sends the sets (a sink directory
 * without its full: restore finds no chain there), or undefined. A sink left out is harmless.
 */
function chainElsewhere(state: BackupState | undefined, config: ClientConfig): string | undefined {
  if (!state || state.chain.length === 0) return undefined;
  if (state.configHost !== undefined && state.configHost !== config.host)
    return `the host changed from ${state.configHost} to ${config.host}`;
  const added = config.sinks.filter((s) => state.sinkUrls !== undefined && !state.sinkUrls.includes(s.url));
  if (added.length > 0)
    return `new sink ${added.map((s) => `${s.name} (${s.url})`).join(', ')} has no part of the current chain`;
  return undefined;
}

/**
 * The chain in the state, if its cache files are all there, its signature archives read
 * through (a damaged one is named in a warning), and it is for this host and root.
 */
async function usableChain(
  state: BackupState | undefined,
  cacheDir: string,
  host: string,
  localdir: string,
  log: Logger,
  making: string,
) {
  if (!state || state.chain.length === 0 || state.host !== host || state.localdir !== localdir) return [];
  for (const s of state.chain) {
    for (const f of [s.manifest, s.signatures]) if (!(await stat(join(cacheDir, f)).catch(() => undefined))) return [];
  }
  for (const s of state.chain) {
    const path = join(cacheDir, s.signatures);
    const damage = await cacheFileDamage(path, s.signaturesSha1);
    if (damage === undefined) continue;
    log.warn(`${path}: cannot be read (${damage}): ${making} a full backup`, { path });
    return [];
  }
  return state.chain;
}

export async function runBackup(opts: BackupRunOptions): Promise<BackupRunResult> {
  const started = Date.now();
  const { config, configFile, log } = opts;
  const until = <T>(p: Promise<T>) => untilAborted(p, opts.signal);
  const archiveDir = config.archiveDir;
  const dirs = {
    cache: join(archiveDir, 'cache'),
    outgoing: join(archiveDir, 'outgoing'),
    work: join(archiveDir, 'work'),
  };
  await checkSources(makeSelection(config.sources, config.exclude), config, configFile);
  const recipients = await loadRecipientsFor(config, configFile, log);
  const targets = opts.targets ?? (await targetsFor(config, configFile, log));
  const volumeSize = checkedVolumeSize(opts, config, configFile);

  // A dry run makes nothing; without an archive directory it has no state to read or lock.
  const archiveExists = (await stat(archiveDir).catch(() => undefined))?.isDirectory() === true;
  if (!opts.dryRun) {
    await mkdir(archiveDir, { recursive: true, mode: 0o700 });
    for (const d of Object.values(dirs)) await mkdir(d, { recursive: true, mode: 0o700 });
  }
  const selection = await selectionFor(config, archiveDir);
  opts.signal?.throwIfAborted(); // (before the lock: another run may hold it, nothing is recorded)
  const lock = opts.dryRun && !archiveExists ? undefined : await acquireLock(archiveDir);
  /** The new set's time, once chosen: the lock is kept until the clock is past it. */
  let setTime: number | undefined;
  // No upload outlives the run (a later run, once the lock is free, must not race a PUT still
  // going): a run that ends early stops the early uploads and its delivery, and waits for both.
  let ahead: EarlyUpload | undefined;
  const stopDelivery = new AbortController();
  let delivering: Promise<unknown> | undefined;
  /** The set directory whose writing failed (not stopped: a stopped writer may still be at it). */
  let unfinished: string | undefined;
  try {
    const read = await loadState(archiveDir);
    const state = read.status === 'ok' ? read.state : undefined;
    const host = hostname();
    const localdir = selection.root;
    // a dry run's warnings say what a real run would do, not what it does
    const making = opts.dryRun ? 'a real run would make' : 'making';
    const elsewhere = chainElsewhere(state, config);
    if (elsewhere) log.warn(`${elsewhere}: ${making} a full backup`);
    const chain = elsewhere ? [] : await usableChain(state, dirs.cache, host, localdir, log, making);
    const spooled = opts.dryRun
      ? await describeLeftovers(dirs, read, archiveDir, log)
      : await cleanLeftovers(dirs, read, archiveDir, log);
    const ledgers = new Map<string, SinkLedger>();
    for (const t of targets) ledgers.set(t.name, await readLedger(archiveDir, t.name));

    let type: 'full' | 'inc' = 'inc';
    if (opts.mode === 'full' || chain.length === 0) type = 'full';
    else if (chainBrokenEverywhere([...ledgers.values()], chainKeys(chain))) {
      // Each sink misses some set of this chain: no sink could restore another inc of it.
      log.warn(`no sink holds the whole current chain: ${making} a full backup`);
      type = 'full';
    } else if (opts.mode === 'auto' && Math.floor(Date.now() / 1000) - chain[0]!.time >= config.fullEvery)
      type = 'full';
    if (opts.mode === 'incremental' && type === 'full')
      log.warn(`no usable local chain in ${dirs.cache}: ${making} a full backup instead`);
    // a spooled set kept without its state still names a time: the new set comes after it
    const lastTime = Math.max(
      chainEnd(chain) ?? 0,
      ...(state?.chain ?? []).map((s) => s.time),
      ...spooled.map(setKeyEnd),
      0,
    );
    const stateFile = join(archiveDir, 'state.json');
    const time = opts.dryRun
      ? Math.floor(Date.now() / 1000)
      : await freeSetTime(lastTime, await until(setTimesOnSinks(targets, log)), opts.signal, stateFile);
    if (!opts.dryRun) setTime = time;
    const names = setNames(type, time, type === 'inc' ? chainEnd(chain) : undefined);

    const problems: Problem[] = [];
    let problemCount = 0;
    const report = (p: ScanProblem | EntryProblem) => {
      problemCount++;
      const path = p.path.toString('utf8');
      log.warn(`${path}: ${p.message}`, { kind: p.kind, path });
      if (problems.length < MAX_LISTED_PROBLEMS) problems.push({ kind: p.kind, path, message: p.message });
    };
    const owners = loadOwnerNames();
    const walk = walkTree({ selection, oneFileSystem: config.oneFileSystem, onProblem: report });
    const tree = countScan(walk, opts.onProgress);
    const oldState = type === 'inc' ? mergedSignatures(chain.map((s) => join(dirs.cache, s.signatures))) : undefined;
    const actions = planActions(tree, oldState, owners, type === 'inc' ? chainEnd(chain) : undefined);
    const base = {
      type,
      time: iso(time),
      ...(names.startTime !== undefined ? { startTime: iso(names.startTime) } : {}),
      localdir,
    };

    if (opts.dryRun) {
      const counts = { new: 0, changed: 0, deleted: 0 };
      for await (const a of actions) {
        opts.signal?.throwIfAborted();
        counts[a.op === 'new' ? 'new' : a.op === 'changed' ? 'changed' : 'deleted']++;
      }
      return {
        result: 'dry-run',
        exitCode: ExitCode.OK,
        ...base,
        volumes: 0,
        files: [],
        storedBytes: 0,
        stats: counts,
        problems,
        spoolBytes: 0,
        seconds: (Date.now() - started) / 1000,
      };
    }

    log.info(`${type === 'full' ? 'full' : 'incremental'} backup of ${localdir} as ${names.key}`);
    await warnIfShortOfSpace(archiveDir, volumeSize, log);
    const setDir = join(dirs.outgoing, names.key);
    await rm(setDir, { recursive: true, force: true });
    await mkdir(setDir, { recursive: true, mode: 0o700 });
    const meter = new UploadMeter(opts.onUploadProgress);
    // A full needs no earlier set: a sink that lags takes it ahead too (its older sets follow in delivery)
    const early = type === 'full' ? targets : targets.filter((t) => lagOf(ledgers.get(t.name)!, spooled).count === 0);
    ahead = new EarlyUpload(
      early,
      meter,
      early.length === targets.length ? { spoolLimit: config.spoolLimit } : undefined,
    );
    const sending = ahead;
    const written = await until(
      writeSet({
        names,
        setDir,
        workDir: dirs.work,
        recipients,
        volumeSize,
        level: type === 'full' ? LEVEL_FULL : LEVEL_INC,
        manifestHead: { hostname: host, localdir: Buffer.from(localdir) },
        actions,
        owners,
        report,
        onStoredVolume: async (name, size) => {
          sending.add(join(setDir, name), name, size);
          await sending.room(); // (the pace of the fastest sink: early-upload.ts)
        },
        // Not waiting for the queues here: delivery to each sink waits for that sink's own
        // (a run that fails stops them: see finally).
      }).catch((err: unknown) => {
        unfinished = setDir;
        throw err;
      }),
    );

    // The spool on disk before the state names the set: a power loss must not leave a
    // pending set with short files (delivery would confirm them by their size).
    await syncSpooledSet(setDir, written.files, dirs.outgoing);
    // The set is complete on local disk: cache its plaintext metadata (on disk before the
    // state names it: a crash must not leave a recorded chain with short files), then record it.
    for (const f of [written.localManifest, written.localSignatures]) await syncFile(f);
    await rename(written.localManifest, join(dirs.cache, names.cacheManifest));
    await rename(written.localSignatures, join(dirs.cache, names.cacheSignatures));
    await syncDir(dirs.cache);
    const storedBytes = written.files.reduce((n, f) => n + f.size, 0);
    const entry: ChainSet = {
      type,
      time,
      ...(names.startTime !== undefined ? { startTime: names.startTime } : {}),
      manifest: names.cacheManifest,
      signatures: names.cacheSignatures,
      signaturesSha1: written.signaturesSha1,
      volumes: written.volumes,
      storedBytes,
    };
    const oldChain = state?.chain ?? [];
    const newState: BackupState = {
      version: 1,
      host,
      localdir,
      configHost: config.host,
      sinkUrls: config.sinks.map((s) => s.url),
      chain: type === 'full' ? [entry] : [...chain, entry],
      pending: [...spooled, names.key],
      runs: state?.runs ?? [],
    };
    opts.signal?.throwIfAborted();
    await writeState(archiveDir, newState);
    if (type === 'full') await dropCacheFiles(dirs.cache, oldChain, newState.chain);

    const delivery = deliverSpool({
      archiveDir,
      outgoing: dirs.outgoing,
      pending: newState.pending,
      chain: chainKeys(newState.chain),
      targets,
      ledgers,
      spoolLimit: config.spoolLimit,
      fresh: names.key,
      ahead,
      log,
      meter,
      signal: opts.signal ? AbortSignal.any([opts.signal, stopDelivery.signal]) : stopDelivery.signal,
    });
    delivering = delivery.catch(() => {});
    const shipped = await until(delivery);
    meter.finish();
    newState.pending = shipped.pending;
    for (const key of shipped.dropped)
      problems.push({ kind: 'spool-overflow', path: key, message: 'dropped from the spool before every sink had it' });
    for (const key of shipped.lost)
      problems.push({ kind: 'spool-lost', path: key, message: 'missing from the spool before every sink had it' });
    problemCount += shipped.dropped.length + shipped.lost.length;
    // Delivered only where it restores: on a sink holding the whole chain up to it.
    const onSomeSink = [...ledgers.values()].some((l) => holdsChain(l, chainKeys(newState.chain), shipped.pending));
    const lagging = Object.values(shipped.delivery).some((d) => d.lagCount > 0);
    const result: BackupRunResult['result'] = !onSomeSink ? 'failed' : lagging ? 'degraded' : 'ok';
    const record: RunRecord = {
      started: new Date(started).toISOString(),
      finished: new Date().toISOString(),
      result,
      set: names.key,
      type,
      storedBytes,
      problems: problemCount,
    };
    newState.runs.push(record);
    opts.signal?.throwIfAborted();
    await writeState(archiveDir, newState);
    return {
      result,
      exitCode: result === 'ok' ? ExitCode.OK : result === 'degraded' ? ExitCode.DEGRADED : ExitCode.FAILED,
      ...base,
      set: names.key,
      volumes: written.volumes,
      files: written.files,
      storedBytes,
      stats: written.stats,
      problems,
      delivery: shipped.delivery,
      spoolBytes: shipped.spoolBytes,
      seconds: (Date.now() - started) / 1000,
    };
  } catch (err) {
    if (unfinished) {
      await ahead?.stop(); // (nothing is sent from the files about to go)
      await abandonSet(unfinished, dirs).catch((e: unknown) => log.warn(`${unfinished}: ${describeError(e)}`));
    }
    // a state made anew names the complete sets in the spool as pending, as cleanLeftovers
    // took them back: with none named, the next run would delete them as a killed run's
    const noChainYet = async (): Promise<BackupState> => ({
      version: 1,
      host: hostname(),
      localdir: selection.root,
      configHost: config.host,
      sinkUrls: config.sinks.map((s) => s.url),
      chain: [],
      pending: await completeSpooledSets(dirs.outgoing),
      runs: [],
    });
    await recordFailure(archiveDir, started, err, noChainYet).catch(() => {});
    throw err;
  } finally {
    // (on success both have ended already)
    stopDelivery.abort(new DeaddropError('the run ended before this upload'));
    await ahead?.stop();
    await delivering;
    for (const t of targets) t.close?.();
    // (a clock set back during the run is not waited for: the next run's freeSetTime says so)
    if (setTime !== undefined && shortWaitFor(setTime)) await waitUntilAfter(setTime);
    await lock?.release();
  }
}

interface WriteSetInput {
  names: SetNames;
  setDir: string;
  workDir: string;
  recipients: Recipient[];
  volumeSize: number;
  level: number;
  manifestHead: { hostname: string; localdir: Buffer };
  actions: AsyncIterable<import('./plan.js').Action>;
  owners: import('../scan/owners.js').OwnerNames;
  report: (p: EntryProblem) => void;
  /** A volume is complete in setDir under its stored name; the writer goes on once this resolves. */
  onStoredVolume?: (name: string, size: number) => Promise<void> | void;
}

interface WrittenSet {
  files: { name: string; size: number; sha256: string }[];
  volumes: number;
  stats: EntryStats;
  localManifest: string;
  localSignatures: string;
  /** SHA-1 of the local signatures file. */
  signaturesSha1: string;
}

async function writeSet(i: WriteSetInput): Promise<WrittenSet> {
  const { names, setDir, workDir } = i;
  const localSignatures = join(workDir, names.cacheSignatures);
  const localManifest = join(workDir, names.cacheManifest);
  const manifest = new ManifestWriter(i.manifestHead, join(workDir, 'filelist.tmp'));
  const volumes = new VolumeWriter({
    pathOf: (n) => join(setDir, names.storedVolume(n)),
    recipients: i.recipients,
    volumeSize: i.volumeSize,
    level: i.level,
    onVolume: (v) => {
      manifest.addVolume({
        number: v.number,
        start: v.start.index,
        ...(v.start.block !== undefined ? { startBlock: v.start.block } : {}),
        end: v.end.index,
        ...(v.end.block !== undefined ? { endBlock: v.end.block } : {}),
        hashes: { SHA1: v.stored.plainSha1 },
      });
      return i.onStoredVolume?.(names.storedVolume(v.number), v.stored.size);
    },
  });
  const sigtar = new SigtarWriter(localSignatures, join(setDir, names.storedSignatures), i.recipients);
  let stats: EntryStats;
  const pool = await createJobPool();
  try {
    const ctx = { volumes, sigtar, manifest, owners: i.owners, onProblem: i.report };
    stats = await writeEntriesParallel(i.actions, ctx, pool, i.level);
  } catch (err) {
    volumes.abort();
    sigtar.abort();
    manifest.abort();
    throw err;
  } finally {
    await pool.close();
  }
  const vols = await volumes.finish();
  const sig = await sigtar.finish();
  await manifest.writeTo(localManifest);
  const man = await encryptFile(localManifest, join(setDir, names.storedManifest), i.recipients);
  const files = [
    ...vols.map((v) => ({ name: names.storedVolume(v.number), stored: v.stored })),
    { name: names.storedSignatures, stored: sig },
    { name: names.storedManifest, stored: man },
  ].map((f) => ({ name: f.name, size: f.stored.size, sha256: f.stored.sha256 }));
  const sumsText = formatSums(files.map((f) => ({ name: f.name, sha256: f.sha256 })));
  await writeFile(join(setDir, names.sums), sumsText, { mode: 0o644, flag: 'wx' });
  files.push({
    name: names.sums,
    size: Buffer.byteLength(sumsText),
    sha256: (await import('node:crypto')).createHash('sha256').update(sumsText).digest('hex'),
  });
  // the local signatures file holds the stored one's plaintext: the same SHA-1
  return { files, volumes: vols.length, stats, localManifest, localSignatures, signaturesSha1: sig.plainSha1 };
}

async function encryptFile(from: string, to: string, recipients: Recipient[]): Promise<StoredFile> {
  const w = new EncryptedFileWriter(to, recipients);
  for await (const chunk of createReadStream(from)) await w.write(chunk as Buffer);
  return w.close();
}

async function syncSpooledSet(setDir: string, files: { name: string }[], outgoing: string): Promise<void> {
  for (const f of files) await syncFile(join(setDir, f.name)).catch((err) => leftEverywhere(err, setDir, f.name));
  await syncDir(setDir);
  await syncDir(outgoing);
}

/** A spooled file found gone is fine when every sink took it (sent-everywhere.ts); else `err` stands. */
async function leftEverywhere(err: unknown, setDir: string, name: string): Promise<void> {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !(await readSentEverywhere(setDir)).has(name)) throw err;
}

function chainKeys(chain: ChainSet[]): string[] {
  return chain.map((s) => setNames(s.type, s.time, s.startTime).key);
}

/** Cache files of a replaced chain (and strays) are removed once the new full is recorded. */
async function dropCacheFiles(cacheDir: string, _old: ChainSet[], current: ChainSet[]) {
  const keep = new Set(current.flatMap((s) => [s.manifest, s.signatures]));
  for (const name of await readdir(cacheDir).catch(() => [] as string[]))
    if (!keep.has(name)) await rm(join(cacheDir, name), { force: true });
}

interface SpoolDeliveryInput {
  archiveDir: string;
  outgoing: string;
  /** Spooled set keys, oldest first; the new set is the last. */
  pending: string[];
  /** The current chain's set keys (kept by name in the ledgers' dropped lists). */
  chain: string[];
  targets: SinkTargetLike[];
  ledgers: Map<string, SinkLedger>;
  spoolLimit: number;
  /** This run's set, just written and synced: not hashed again. */
  fresh: string;
  ahead?: SentAhead;
  log: Logger;
  meter?: UploadMeter;
  /** The run ends early: delivery stops, and nothing is recorded (the ledgers stay as they were). */
  signal?: AbortSignal;
}

/**
 * Deliver every spooled set to the sinks lacking it, then trim the spool to its limit and
 * persist the ledgers (the state's pending list is the caller's to write). The ledgers are
 * written before any spool directory is removed: a run killed in between keeps every drop.
 */
async function deliverSpool(i: SpoolDeliveryInput) {
  const sets: OutgoingSet[] = [];
  const lost: string[] = [];
  const damaged: string[] = [];
  const checks = await SpoolChecks.load(i.archiveDir);
  for (const key of i.pending) {
    i.signal?.throwIfAborted();
    const set = await readOutgoingSet(i.outgoing, key);
    const damage = set && key !== i.fresh ? await checks.damage(set) : undefined;
    if (set && damage === undefined) {
      sets.push(set);
      continue;
    }
    if (damage !== undefined) {
      i.log.error(`spooled set ${key} does not match what was written (${damage}): it is treated as lost`, {
        set: key,
      });
      damaged.push(key);
    }
    if (recordLost(key, [...i.ledgers.values()], i.log)) lost.push(key);
  }
  await checks.save(i.log);
  const delivery = await deliverSets({
    sets,
    targets: i.targets,
    ledgers: i.ledgers,
    ...(i.ahead ? { ahead: i.ahead } : {}),
    log: i.log,
    meter: i.meter,
    ...(i.signal ? { signal: i.signal } : {}),
  });
  i.signal?.throwIfAborted();
  const givenUp = recordGivenUp(i);
  const settled = settledSets(sets, [...i.ledgers.values()]);
  const spool = await settleSpool({
    outgoing: i.outgoing,
    pending: settled.kept,
    limit: i.spoolLimit,
    ledgers: [...i.ledgers.values()],
    log: i.log,
  });
  const needed = new Set([...spool.pending, ...i.chain]);
  for (const [name, ledger] of i.ledgers) {
    foldDropped(ledger, (key) => needed.has(key));
    await writeLedger(i.archiveDir, ledger);
    delivery[name]!.lagging = laggingSets(ledger, spool.pending);
    const lag = lagOf(ledger, spool.pending);
    delivery[name]!.lagCount = lag.count;
    // one line of bounded length: the list grows by a set per run while the sink stays away
    if (lag.count > 0)
      i.log.warn(`sink ${name} lags since ${lag.oldest} (${lag.count} sets)`, { sink: name, sets: lag.count });
  }
  for (const key of [...settled.remove, ...spool.remove, ...damaged])
    await rm(join(i.outgoing, key), { recursive: true, force: true });
  const dropped = givenUp ? [...spool.dropped, i.fresh] : spool.dropped;
  return { delivery, pending: spool.pending, dropped, lost, spoolBytes: spool.bytes };
}

/**
 * The new set was given up for the sinks that failed while it was written (it grew past the
 * spool's limit: early-upload.ts): dropped for each that has not confirmed it. Returns whether
 * some sink newly lacks it.
 */
function recordGivenUp(i: SpoolDeliveryInput): boolean {
  const sinks = [...(i.ahead?.givenUp ?? [])].map((name) => i.ledgers.get(name)!);
  const lacking = sinks.filter((l) => !hasConfirmed(l, i.fresh) && !l.dropped.includes(i.fresh));
  for (const l of lacking) l.dropped.push(i.fresh);
  if (lacking.length === 0) return false;
  i.log.error(
    `spool over its limit (${i.spoolLimit} bytes): ${i.fresh} was not kept for ${lacking.map((l) => l.sink).join(', ')}, ` +
      'which never received it; the next full backup repairs that',
    { set: i.fresh, sinks: lacking.map((l) => l.sink) },
  );
  return true;
}

/**
 * A pending set whose outgoing/<set>/ directory is gone (deleted by hand, a restored archive
 * dir) can reach no sink any more: it is dropped for every sink that has not confirmed it, so
 * that sink lags (and gets no later inc of that chain as if it were complete) until a full
 * reaches it. Returns whether some sink newly lacks it.
 */
function recordLost(key: string, ledgers: SinkLedger[], log: Logger): boolean {
  const lacking = ledgers.filter((l) => !hasConfirmed(l, key) && !l.dropped.includes(key));
  for (const l of lacking) l.dropped.push(key);
  if (lacking.length === 0) return false;
  log.error(
    `spooled set ${key} is missing from the spool; ${lacking.map((l) => l.sink).join(', ')} never received it ` +
      `and ${lacking.length === 1 ? 'lags' : 'lag'} until the next full backup`,
    { set: key, sinks: lacking.map((l) => l.sink) },
  );
  return true;
}

/**
 * A set that no sink still waits for (each has confirmed it or can never get it: another file
 * holds one of its names there) is to leave the spool. The others stay, oldest first.
 */
function settledSets(sets: OutgoingSet[], ledgers: SinkLedger[]): { kept: string[]; remove: string[] } {
  const owed = (key: string) => ledgers.some((l) => !hasConfirmed(l, key) && !l.dropped.includes(key));
  const kept: string[] = [];
  const remove: string[] = [];
  for (const { key } of sets) (owed(key) ? kept : remove).push(key);
  return { kept, remove };
}

/**
 * The failed run goes into state.json; a first run that fails makes one (with no chain, and
 * the complete sets of the spool pending). A damaged or unreadable state is left as it is, for
 * the admin to look at.
 */
async function recordFailure(
  archiveDir: string,
  started: number,
  err: unknown,
  noChainYet: () => Promise<BackupState>,
): Promise<void> {
  const read = await loadState(archiveDir);
  if (read.status !== 'ok' && read.status !== 'none') return;
  const state = read.status === 'ok' ? read.state : await noChainYet();
  state.runs.push({
    started: new Date(started).toISOString(),
    finished: new Date().toISOString(),
    result: 'failed',
    error: describeError(err),
  });
  await writeState(archiveDir, state);
}
