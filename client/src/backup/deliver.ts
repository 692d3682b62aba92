/**
 * Delivery of the spooled sets (archiveDir/outgoing/<set>/, oldest first, the new set last) to
 * every sink that has not confirmed them yet. Per set the upload order is volumes, signatures,
 * manifest, sums file last, each file read once and PUT to all sinks that need it in parallel.
 * A sink that fails is done for this run (the next file would fail the same way); the others
 * continue. Files the sink already lists with the right size are not sent again.
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
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '@deaddrop/common/errors';
import type { Logger } from '@deaddrop/common/log';
import { parseSums, sha256File, type SumsEntry } from '../format/sums.js';
import type { SinkTargetLike } from '../transport/file-target.js';
import { chainCut, confirm, hasConfirmed, type SinkLedger } from '../transport/ledger.js';
import type { UploadMeter } from '../ops/upload-progress.js';
import { putMirrored } from '../transport/mirror.js';
import type { SentAhead } from './early-upload.js';

export interface OutgoingSet {
  key: string;
  full: boolean;
  /** archiveDir/outgoing/<set>/ */
  dir: string;
  /** Stored files in upload order (the sums file last). */
  files: { name: string; size: number }[];
}

export interface SinkDelivery {
  /** The sink took part without any error this run. */
  ok: boolean;
  /** Files PUT this run. */
  created: number;
  /** Files the sink already had (listed at the start); one published by our own lost-answer PUT is created. */
  existed: number;
  /** Bytes uploaded this run. */
  bytes: number;
  /** Sets newly confirmed by PROPFIND this run. */
  confirmed: string[];
  /** Spooled or dropped sets this sink still lacks (filled in after the spool is trimmed). */
  lagging: string[];
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
}

/** Upload rank of a stored name: volumes (by number), signatures, manifest, sums file. */
function rank(name: string): [number, number] {
  if (name.endsWith('.sha256sums')) return [3, 0];
  if (name.includes('.manifest')) return [2, 0];
  if (name.includes('.sigtar')) return [1, 0];
  return [0, Number(/\.vol(\d+)\./.exec(name)?.[1] ?? 0)];
}

/** A spooled set as found on local disk, files in upload order. */
export async function readOutgoingSet(outgoing: string, key: string): Promise<OutgoingSet | undefined> {
  const dir = join(outgoing, key);
  const names = await readdir(dir).catch(() => undefined);
  if (!names) return undefined;
  names.sort((a, b) => {
    const [ra, rb] = [rank(a), rank(b)];
    return ra[0] - rb[0] || ra[1] - rb[1] || (a < b ? -1 : 1);
  });
  const files = [];
  for (const name of names) files.push({ name, size: (await stat(join(dir, name))).size });
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
    if (!others.some((f) => f.name === e.name)) return `${e.name} is missing`;
    if ((await sha256File(join(set.dir, e.name))) !== e.sha256) return `${e.name} does not match ${sums.name}`;
  }
  return undefined;
}

interface SinkRun {
  target: SinkTargetLike;
  ledger: SinkLedger;
  result: SinkDelivery;
  /** What the sink listed at the start (name → size); undefined when it could not be reached. */
  listing?: Map<string, number>;
  down: boolean;
}

export async function deliverSets(opts: DeliverOptions): Promise<Record<string, SinkDelivery>> {
  const { log } = opts;
  const sinks: SinkRun[] = opts.targets.map((target) => ({
    target,
    ledger: opts.ledgers.get(target.name)!,
    result: { ok: true, created: 0, existed: 0, bytes: 0, confirmed: [], lagging: [] },
    down: false,
  }));
  const fail = (s: SinkRun, err: unknown, what: string) => {
    s.down = true;
    s.result.ok = false;
    s.result.error = `${what}: ${describeError(err)}`;
    log.warn(`sink ${s.target.name}: ${s.result.error}`, { sink: s.target.name });
  };
  for (const s of sinks) {
    const err = opts.ahead?.failed.get(s.target.name);
    if (err !== undefined) fail(s, err, 'uploading ahead');
  }
  /** The set can never go to this sink: another file holds one of its names there. */
  const block = (s: SinkRun, set: OutgoingSet, file: { name: string; size: number }, have: number) => {
    if (!s.ledger.dropped.includes(set.key)) s.ledger.dropped.push(set.key);
    s.result.ok = false;
    s.result.error ??= `${set.key}: ${file.name} already exists with ${have} bytes (expected ${file.size})`;
    log.error(
      `sink ${s.target.name} holds another file named ${file.name} (${have} bytes, ours ${file.size}): ` +
        `${set.key} can never go there; the sink lags until a later full backup reaches it`,
      { sink: s.target.name, set: set.key },
    );
  };
  const owed = (s: SinkRun, set: OutgoingSet) =>
    !hasConfirmed(s.ledger, set.key) && !s.ledger.dropped.includes(set.key);
  const fulls = opts.sets.filter((set) => set.full).map((set) => set.key);
  /** Record as dropped the sets the sink can no longer restore (see above): called oldest first. */
  const cutChains = (set: OutgoingSet) => {
    for (const s of sinks) {
      if (!owed(s, set) || !chainCut(s.ledger, set.key, fulls)) continue;
      s.ledger.dropped.push(set.key);
      log.warn(
        `sink ${s.target.name} lacks an earlier set of the chain of ${set.key}: not sent there; ` +
          'the sink lags until a later full backup reaches it',
        { sink: s.target.name, set: set.key },
      );
    }
  };
  const needy = (set: OutgoingSet) => {
    cutChains(set);
    return sinks.filter((s) => !s.down && owed(s, set));
  };
  for (const set of opts.sets) cutChains(set);

  // One PROPFIND per sink first, and only if some set needs it: what is there is not sent again.
  await Promise.all(
    sinks.map(async (s) => {
      if (!opts.sets.some((set) => owed(s, set))) return;
      try {
        s.listing = await s.target.list();
      } catch (err) {
        fail(s, err, 'unreachable');
      }
    }),
  );

  for (const set of opts.sets) {
    const forSet = needy(set);
    if (forSet.length === 0) continue;
    log.info(`delivering ${set.key} to ${forSet.map((s) => s.target.name).join(', ')}`);
    let active = forSet;
    for (const file of set.files) {
      const send: SinkRun[] = [];
      for (const s of active) {
        const have = s.listing?.get(file.name);
        if (have === undefined) send.push(s);
        else if (have === file.size && opts.ahead?.sent.get(s.target.name)?.get(file.name) === file.size) {
          s.result.created++;
          s.result.bytes += file.size;
        } else if (have === file.size) s.result.existed++;
        else block(s, set, file, have);
      }
      if (send.length > 0) {
        const counted = opts.meter?.queue(file.size);
        const outcomes = await putMirrored(
          join(set.dir, file.name),
          file.name,
          file.size,
          send.map((s) => s.target),
          counted?.read,
        );
        counted?.ended();
        outcomes.forEach((o, i) => {
          const s = send[i]!;
          if (!o.ok) return fail(s, o.error, set.key);
          // Only names the sink did not list are sent: one it has now appeared during our own
          // attempt (published, then the answer was lost; or a 409 after such an attempt).
          if (o.outcome === 'created' || !s.listing?.has(file.name)) {
            s.result.created++;
            s.result.bytes += file.size;
          } else s.result.existed++;
        });
      }
      active = active.filter((s) => !s.down && owed(s, set));
      if (active.length === 0) break;
    }
  }

  // Confirm by a second PROPFIND: every file of the set listed with its size.
  await Promise.all(
    sinks.map(async (s) => {
      if (s.down) return;
      const open = opts.sets.filter((set) => owed(s, set));
      if (open.length === 0) return;
      let listing: Map<string, number>;
      try {
        listing = await s.target.list();
      } catch (err) {
        return fail(s, err, 'confirming');
      }
      for (const set of open) {
        const missing = set.files.filter((f) => listing.get(f.name) !== f.size);
        if (missing.length > 0) {
          s.result.ok = false;
          s.result.error ??= `${set.key}: not confirmed (${missing[0]!.name} missing or of another size)`;
          continue;
        }
        confirm(s.ledger, set.key, set.full);
        s.result.confirmed.push(set.key);
      }
    }),
  );
  return Object.fromEntries(sinks.map((s) => [s.target.name, s.result]));
}
