/**
 * Delivery of the spooled sets (archiveDir/outgoing/<set>/, oldest first, the new set last) to
 * every sink that has not confirmed them yet. Per set the upload order is volumes, signatures,
 * manifest, sums file last. Each sink goes at its own pace (see deliverSets). A sink that fails
 * is done for this run (the next file would fail the same way); the others continue. Files the
 * sink already lists with the right size are not sent again.
 *
 * A set counts as delivered to a sink only when a PROPFIND after the uploads lists every file
 * with its size; that is what the ledger records. Never reads file contents from a sink.
 *
 * A sink listing one of a set's names with another size holds another run's file (uploads
 * appear under their final name only when complete): the set can never go there. It is
 * recorded as dropped for that sink, as if the spool had lost it, so later runs do not fail
 * on it again; the sink lags until a later full reaches it.
 *
 * An incremental whose chain lacks an earlier set on a sink (dropped for it) is useless there:
 * it is not sent and is recorded as dropped for that sink too, until a full starts a new chain.
 *
 * A sink that refuses PROPFIND itself (403, 405, 501: a locked-down nginx) but takes PUT cannot
 * be listed: it is sent every file of every set it has not confirmed, in order, and a name it
 * already holds (409: set names are new at every run, so an earlier attempt of ours put it
 * there, complete, as the sink publishes only whole files) counts as there, its size unchecked.
 * A set whose every file was answered 201 or 409 (or went ahead this run) is confirmed by those
 * answers instead of a listing, so the sink catches up and leaves the spool. Each such run
 * says in a warning that the sink could not be listed.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '@deaddrop/common/errors';
import type { Logger } from '@deaddrop/common/log';
import { parseSums, sha256File, type SumsEntry } from '../format/sums.js';
import type { SinkTargetLike } from '../transport/file-target.js';
import { chainCut, confirm, hasConfirmed, type SinkLedger } from '../transport/ledger.js';
import type { UploadMeter } from '../ops/upload-progress.js';
import { uploadFile } from '../transport/upload-file.js';
import { answerStatus, refusesPropfind } from '../transport/retry.js';
import { sharedFileProgress, type SharedFileProgress } from './delivery-progress.js';
import type { SentAhead } from './early-upload.js';
import { readSentEverywhere } from './sent-everywhere.js';

export interface OutgoingSet {
  key: string;
  full: boolean;
  /** archiveDir/outgoing/<set>/ */
  dir: string;
  /** Stored files in upload order (the sums file last). */
  files: SpooledFile[];
}

export interface SpooledFile {
  name: string;
  size: number;
  /** False: every sink took it and it left the spool (sent-everywhere.ts). */
  inSpool: boolean;
}

export interface SinkDelivery {
  /** The sink took part without any error this run. */
  ok: boolean;
  /** Files PUT this run. */
  created: number;
  /**
   * Files the sink already had (listed at the start, or answered 409 where it cannot be listed);
   * one published by our own lost-answer PUT is created.
   */
  existed: number;
  /** Bytes uploaded this run. */
  bytes: number;
  /** Sets newly confirmed by PROPFIND this run. */
  confirmed: string[];
  /** Spooled or dropped sets this sink still lacks (filled in after the spool is trimmed). */
  lagging: string[];
  /** How many sets it lacks: `lagging` and the old dropped sets the ledger keeps only as a count. */
  lagCount: number;
  error?: string;
}

export interface DeliverOptions {
  sets: OutgoingSet[];
  targets: SinkTargetLike[];
  /** Sink name → ledger; updated in place with what was confirmed. */
  ledgers: Map<string, SinkLedger>;
  /** Files put this run before delivery (counted as created) and sinks that failed then (done for this run). */
  ahead?: SentAhead;
  log: Logger;
  /** Counts what is sent (progress). */
  meter?: UploadMeter;
  /**
   * Aborted when the run ends early (an interruption): no request starts, the one under way is
   * aborted, and each sink's delivery ends failed at once (nothing confirmed past that point).
   */
  signal?: AbortSignal;
}

/** Upload rank of a stored name: volumes (by number), signatures, manifest, sums file. */
function rank(name: string): [number, number] {
  if (name.endsWith('.sha256sums')) return [3, 0];
  if (name.includes('.manifest')) return [2, 0];
  if (name.includes('.sigtar')) return [1, 0];
  return [0, Number(/\.vol(\d+)\./.exec(name)?.[1] ?? 0)];
}

/**
 * A spooled set as found on local disk, files in upload order, with those that left the spool
 * (every sink took them). Early uploads may still be under way: a file found gone while this
 * reads is in the record read after it (the line is written before the file goes).
 */
export async function readOutgoingSet(outgoing: string, key: string): Promise<OutgoingSet | undefined> {
  const dir = join(outgoing, key);
  const names = await readdir(dir).catch(() => undefined);
  if (!names) return undefined;
  const present = new Map<string, number>();
  for (const name of names) {
    if (name.startsWith('.')) continue; // (the record: never a stored name)
    const st = await stat(join(dir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (st) present.set(name, st.size);
  }
  const left = await readSentEverywhere(dir);
  const files: SpooledFile[] = [...left].map(([name, size]) => ({ name, size, inSpool: false }));
  for (const [name, size] of present) if (!left.has(name)) files.push({ name, size, inSpool: true });
  files.sort((a, b) => {
    const [ra, rb] = [rank(a.name), rank(b.name)];
    return ra[0] - rb[0] || ra[1] - rb[1] || (a.name < b.name ? -1 : 1);
  });
  return { key, full: key.startsWith('full.'), dir, files };
}

/**
 * Why a spooled set's files no longer match its sums file (written last, after fsyncs, listing
 * the SHA-256 of every other file), or undefined. A power loss or a hand can leave them short.
 */
export async function spoolDamage(set: OutgoingSet): Promise<string | undefined> {
  const sums = set.files.find((f) => f.name.endsWith('.sha256sums'));
  if (!sums) return 'no sums file';
  let listed: SumsEntry[];
  try {
    listed = parseSums(await readFile(join(set.dir, sums.name), 'utf8'), sums.name);
  } catch (err) {
    return describeError(err);
  }
  const others = set.files.filter((f) => f !== sums);
  if (listed.length !== others.length)
    return `${sums.name} lists ${listed.length} files, the spool holds ${others.length}`;
  for (const e of listed) {
    const file = others.find((f) => f.name === e.name);
    if (!file) return `${e.name} is missing`;
    if (!file.inSpool) continue; // on every sink, where check and restore hash it
    if ((await sha256File(join(set.dir, e.name))) !== e.sha256) return `${e.name} does not match ${sums.name}`;
  }
  return undefined;
}

/**
 * Each sink is delivered on its own, starting once its own early uploads have ended: a sink
 * that hangs or fails holds back only itself, so a healthy sink gets its whole set (sums file
 * included) while a black-holed one is still waiting out its timeouts. A file two sinks need
 * is read once for each (the OS cache serves the second read).
 */
export async function deliverSets(opts: DeliverOptions): Promise<Record<string, SinkDelivery>> {
  const progress = sharedFileProgress(opts.meter);
  const results = await Promise.all(opts.targets.map((target) => deliverToSink(target, opts, progress)));
  return Object.fromEntries(opts.targets.map((t, i) => [t.name, results[i]!]));
}

async function deliverToSink(
  target: SinkTargetLike,
  opts: DeliverOptions,
  progress: SharedFileProgress,
): Promise<SinkDelivery> {
  const { log } = opts;
  const name = target.name;
  const ledger = opts.ledgers.get(name)!;
  const result: SinkDelivery = { ok: true, created: 0, existed: 0, bytes: 0, confirmed: [], lagging: [], lagCount: 0 };
  const fail = (err: unknown, what: string) => {
    result.ok = false;
    result.error = `${what}: ${describeError(err)}`;
    log.warn(`sink ${name}: ${result.error}`, { sink: name });
    return result;
  };
  const owed = (set: OutgoingSet) => !hasConfirmed(ledger, set.key) && !ledger.dropped.includes(set.key);
  const fulls = opts.sets.filter((set) => set.full).map((set) => set.key);
  /** Record as dropped a set this sink can no longer restore (see above): called oldest first. */
  const cutChain = (set: OutgoingSet) => {
    if (!owed(set) || !chainCut(ledger, set.key, fulls)) return;
    ledger.dropped.push(set.key);
    log.warn(
      `sink ${name} lacks an earlier set of the chain of ${set.key}: not sent there; ` +
        'the sink lags until a later full backup reaches it',
      { sink: name, set: set.key },
    );
  };
  /** The set can never go to this sink: another file holds one of its names there. */
  const block = (set: OutgoingSet, file: { name: string; size: number }, have: number) => {
    if (!ledger.dropped.includes(set.key)) ledger.dropped.push(set.key);
    result.ok = false;
    result.error ??= `${set.key}: ${file.name} already exists with ${have} bytes (expected ${file.size})`;
    log.error(
      `sink ${name} holds another file named ${file.name} (${have} bytes, ours ${file.size}): ` +
        `${set.key} can never go there; the sink lags until a later full backup reaches it`,
      { sink: name, set: set.key },
    );
  };

  /** The sink lost a file every sink had taken, which then left the spool: the set can never go there. */
  const gone = (set: OutgoingSet, file: SpooledFile) => {
    if (!ledger.dropped.includes(set.key)) ledger.dropped.push(set.key);
    result.ok = false;
    result.error ??= `${set.key}: ${file.name} is no longer there`;
    log.error(
      `sink ${name} no longer lists ${file.name}, which every sink had taken before it left the spool: ` +
        `${set.key} can never go there; the sink lags until a later full backup reaches it`,
      { sink: name, set: set.key },
    );
  };

  for (const set of opts.sets) cutChain(set);
  // A sink that failed ahead is done for this run: no listing, no upload (its sets stay spooled).
  await opts.ahead?.ended(name);
  if (opts.ahead?.failed.has(name)) return fail(opts.ahead.failed.get(name), 'uploading ahead');
  if (!opts.sets.some(owed)) return result;
  const { signal } = opts;
  if (signal?.aborted) return fail(signal.reason, 'stopped');

  // One PROPFIND first (name → size): what is there is not sent again.
  let listing: Map<string, number> | undefined;
  try {
    listing = await target.list(signal);
  } catch (err) {
    if (signal?.aborted) return fail(signal.reason, 'stopped');
    // "unreachable" only when the sink gave no answer: a 401 or a 500 is not the network's fault
    if (!refusesPropfind(err)) return fail(err, answerStatus(err) !== undefined ? 'listing' : 'unreachable');
    log.warn(
      `sink ${name} cannot be listed (${describeError(err)}): sending every file of the sets it has not ` +
        'confirmed; a name it already holds (409) counts as there, its size unchecked',
      { sink: name },
    );
  }
  if (!listing) return deliverUnlisted(target, opts, progress, result, owed, cutChain, fail);

  for (const set of opts.sets) {
    cutChain(set);
    if (!owed(set)) continue;
    log.info(`delivering ${set.key} to ${name}`);
    for (const file of set.files) {
      const have = listing.get(file.name);
      if (have === undefined && !file.inSpool) {
        gone(set, file);
        break;
      } else if (have === undefined) {
        const counted = progress.file(`${set.key}/${file.name}`, file.size);
        const path = join(set.dir, file.name);
        const outcome = await uploadFile(path, file.name, file.size, target, counted.read, signal);
        counted.ended();
        if (!outcome.ok) return fail(outcome.error, set.key);
        // Created even when it 'exists': only names the sink did not list are sent, so one there
        // now came from our own attempt (published, then the answer was lost; or a 409 after it).
        result.created++;
        result.bytes += file.size;
      } else if (have === file.size && opts.ahead?.sent.get(name)?.get(file.name) === file.size) {
        result.created++;
        result.bytes += file.size;
      } else if (have === file.size) result.existed++;
      else {
        block(set, file, have);
        break;
      }
    }
  }

  // Confirm by a second PROPFIND: every file of the set listed with its size.
  const open = opts.sets.filter(owed);
  if (open.length === 0) return result;
  let after: Map<string, number>;
  try {
    after = await target.list(signal);
  } catch (err) {
    return fail(err, 'confirming');
  }
  for (const set of open) {
    const missing = set.files.filter((f) => after.get(f.name) !== f.size);
    if (missing.length > 0) {
      result.ok = false;
      result.error ??= `${set.key}: not confirmed (${missing[0]!.name} missing or of another size)`;
      continue;
    }
    confirm(ledger, set.key, set.full);
    result.confirmed.push(set.key);
  }
  return result;
}

/**
 * Delivery to a sink that cannot be listed (see above): every file of each owed set, in order;
 * the PUT answers confirm the set. The first failure ends the sink's delivery for this run.
 */
async function deliverUnlisted(
  target: SinkTargetLike,
  opts: DeliverOptions,
  progress: SharedFileProgress,
  result: SinkDelivery,
  owed: (set: OutgoingSet) => boolean,
  cutChain: (set: OutgoingSet) => void,
  fail: (err: unknown, what: string) => SinkDelivery,
): Promise<SinkDelivery> {
  const name = target.name;
  const ledger = opts.ledgers.get(name)!;
  for (const set of opts.sets) {
    cutChain(set);
    if (!owed(set)) continue;
    opts.log.info(`delivering ${set.key} to ${name} (without a listing)`);
    for (const file of set.files) {
      if (opts.ahead?.sent.get(name)?.get(file.name) !== file.size) {
        if (!file.inSpool) {
          result.existed++; // every sink took it at an earlier run (answered 201 or 409)
          continue;
        }
        const counted = progress.file(`${set.key}/${file.name}`, file.size);
        const path = join(set.dir, file.name);
        const outcome = await uploadFile(path, file.name, file.size, target, counted.read, opts.signal);
        counted.ended();
        if (!outcome.ok) return fail(outcome.error, set.key);
        if (outcome.outcome === 'exists') {
          result.existed++;
          continue;
        }
      }
      result.created++;
      result.bytes += file.size;
    }
    confirm(ledger, set.key, set.full);
    result.confirmed.push(set.key);
  }
  return result;
}
