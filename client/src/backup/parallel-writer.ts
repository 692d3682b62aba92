/**
 * The set's content, written with worker threads: planned actions are cut into jobs (runs of
 * small entries, or 1 MiB ranges of large files), run on the pool ahead of time, and their
 * results are appended to the volumes, the signature archive and the Filelist strictly in
 * plan order. Large changed files with a stored signature are cut into ranges too: workers
 * send each range as delta commands (rsync/delta.ts deltaOfRange), which this thread cuts into
 * 64 KiB diff chunks in order. Small changed files go in the batches, as whole deltas.
 */
import { release } from '@deaddrop/common/young-gc';
import { duplicitySignatureParams, strongKindOf } from '../rsync/magic.js';
import { entryName, headerOf, signatureSize } from './entry-names.js';
import { emptyStats, type EntryStats } from './entry-stats.js';
import { Chunker, writeDeleted, type EntryProblem, type EntryWriterContext } from './entry-writer.js';
import type { JobPool } from './job-pool.js';
import {
  BATCH_BYTES,
  BATCH_ITEMS,
  DELTA_RANGE,
  ENTRY_OVERHEAD,
  rangeChunks,
  RANGE_FILE,
  type Job,
  type JobItem,
  type JobResult,
} from './jobs.js';
import type { Action } from './plan.js';

/** Jobs run ahead of the one being written (bounds memory: about 2 MiB each). */
const AHEAD = 8;
const CHUNK = 64 * 1024;

interface BigFile {
  action: Extract<Action, { op: 'new' | 'changed' }>;
  signature: Buffer[];
  changed: boolean;
  skipped: boolean;
  /** A changed file sent as delta ranges: its commands, cut into 64 KiB diff chunks in order. */
  delta?: { out: Chunker; parts: Buffer[]; have: number };
}

type Slot = { result: Promise<JobResult>; big?: BigFile; lastRange?: boolean; firstRange?: boolean };

export async function writeEntriesParallel(
  actions: AsyncIterable<Action>,
  ctx: EntryWriterContext,
  pool: JobPool,
  level: number,
): Promise<EntryStats> {
  const stats = emptyStats();
  const slots: Slot[] = [];
  let nextId = 0;
  let nextSigKey = 0;
  let batch: JobItem[] = [];
  let batchBytes = 0;

  const submit = (items: JobItem[], extra: Omit<Slot, 'result'> = {}) => {
    const job: Job = { id: nextId++, items, level };
    const result = pool.run(job);
    result.catch(() => {}); // handled in its turn
    slots.push({ result, ...extra });
  };
  const flushBatch = () => {
    if (batch.length === 0) return;
    submit(batch);
    batch = [];
    batchBytes = 0;
  };
  const drain = async (keep: number) => {
    while (slots.length > keep) await consume(slots.shift()!);
  };

  const consume = async (slot: Slot): Promise<void> => {
    const r = await slot.result;
    const big = slot.big;
    if (big?.skipped) return;
    if (big && r.range?.failed) {
      // the first range could not open the file: the whole file is left out
      big.skipped = true;
      const e = big.action.entry;
      if (r.range.failed.kind === 'unreadable')
        ctx.onProblem({ kind: 'unreadable', path: e.path, message: `${r.range.failed.message}; skipped` });
      else {
        ctx.onProblem({ kind: 'vanished', path: e.path, message: r.range.failed.message });
        if (big.action.op === 'changed') await writeDeleted(e.index, big.action.old.type === 'file', ctx, stats);
      }
      return;
    }
    for (const m of r.members)
      if (m.raw) {
        await ctx.volumes.addBlocks([toBuffer(m.data)], m.first, m.last, m.compressible);
        release(m.data); // copied into a segment; it waited behind earlier jobs (young-gc.ts)
      } else await ctx.volumes.addMember(m.data, m.first, m.last);
    await ctx.sigtar.addRaw(r.sigtar);
    for (const f of r.files) await ctx.manifest.addFile(f.change, f.index.map(toBuffer));
    for (const p of r.problems)
      ctx.onProblem({ kind: p.kind, path: toBuffer(p.path), message: p.message } as EntryProblem);
    for (const k of Object.keys(stats) as (keyof EntryStats)[]) stats[k] += r.stats[k];
    if (big) {
      big.signature.push(toBuffer(r.range!.signature));
      big.changed ||= r.range!.changed;
      if (big.delta) await addDelta(big.delta, toBuffer(r.range!.delta!), slot.lastRange === true);
      if (slot.lastRange) await finishBigFile(big);
    }
  };

  /** Delta commands in, whole 64 KiB diff chunks out; the rest goes as the last chunk. */
  const addDelta = async (d: NonNullable<BigFile['delta']>, commands: Buffer, last: boolean) => {
    d.parts.push(commands);
    d.have += commands.length;
    if (d.have >= CHUNK) {
      const all = Buffer.concat(d.parts, d.have);
      let at = 0;
      for (; all.length - at >= CHUNK; at += CHUNK) await d.out.full(all.subarray(at, at + CHUNK));
      d.parts = at < all.length ? [all.subarray(at)] : [];
      d.have = all.length - at;
    }
    if (last) await d.out.last(Buffer.concat(d.parts, d.have));
  };

  const finishBigFile = async (big: BigFile) => {
    const e = big.action.entry;
    const signature = Buffer.concat(big.signature);
    const p = duplicitySignatureParams(e.size);
    if (signature.length !== signatureSize(e.size, p.blockLen, p.strongLen))
      throw new Error(`internal: signature of ${e.path.toString()} has ${signature.length} bytes`);
    if (big.changed)
      ctx.onProblem({
        kind: 'changed',
        path: e.path,
        message: 'changed while being read; stored at its scanned size, taken again next run',
      });
    const h = headerOf(e, ctx.owners, entryName('signature', e.index), signature.length);
    if (big.changed) h.mtime = 0; // read again next run (compare.ts)
    await ctx.sigtar.add(h, signature);
    if (big.action.op === 'new') stats.newFiles++;
    else stats.changedFiles++;
    await ctx.manifest.addFile(big.action.op, e.index);
  };

  for await (const a of actions) {
    const itemsBefore = batch.length;
    if (a.op === 'deleted') {
      batch.push({ kind: 'deleted', index: a.index, wasFile: a.wasFile });
    } else if (a.entry.type !== 'file') {
      batch.push({ kind: 'meta', entry: a.entry });
    } else if (a.op === 'changed' && a.signature && a.entry.size >= RANGE_FILE && isMd4(a.signature)) {
      flushBatch();
      const e = a.entry;
      const delta = { out: new Chunker(e, 'diff', 'multivol_diff', ctx, stats), parts: [], have: 0 };
      const big: BigFile = { action: a, signature: [], changed: false, skipped: false, delta };
      // one copy of the stored signature, shared by every range's worker
      const oldSignature = new Uint8Array(new SharedArrayBuffer(a.signature.length));
      oldSignature.set(a.signature);
      const sigKey = nextSigKey++;
      const blockLen = duplicitySignatureParams(e.size).blockLen;
      const step = Math.ceil(DELTA_RANGE / blockLen) * blockLen;
      for (let from = 0; from < e.size; from += step) {
        const to = Math.min(e.size, from + step);
        submit([{ kind: 'delta-range', entry: e, from, to, sigKey, oldSignature }], { big, lastRange: to === e.size });
        await drain(AHEAD);
      }
    } else if (a.op === 'changed' && a.signature && isMd4(a.signature)) {
      // a copy of its own: posting a view of the inflated archive would copy all of its chunk
      batch.push({ kind: 'diff', entry: a.entry, oldSignature: new Uint8Array(a.signature) });
      batchBytes += a.entry.size;
    } else if (a.entry.size < RANGE_FILE) {
      batch.push({
        kind: 'file',
        entry: a.entry,
        change: a.op,
        hadOld: a.op === 'changed' && a.old.kind !== 'deleted',
        oldWasFile: a.op === 'changed' && a.old.type === 'file',
      });
      batchBytes += a.entry.size;
    } else {
      flushBatch();
      const e = a.entry;
      const big: BigFile = { action: a, signature: [], changed: false, skipped: false };
      const total = Math.floor(e.size / CHUNK) + 1; // full chunks + the final (possibly empty) one
      const step = rangeChunks(duplicitySignatureParams(e.size).blockLen);
      for (let from = 0; from < total; from += step) {
        const to = Math.min(total, from + step);
        submit([{ kind: 'range', entry: e, from, to }], { big, lastRange: to === total, firstRange: from === 0 });
        await drain(AHEAD);
      }
    }
    batchBytes += (batch.length - itemsBefore) * ENTRY_OVERHEAD;
    if (batchBytes >= BATCH_BYTES || batch.length >= BATCH_ITEMS) flushBatch();
    await drain(AHEAD);
  }
  flushBatch();
  await drain(0);
  return stats;
}

/**
 * Deltas are made against MD4 signatures (duplicity's, and ours): a stored signature of another
 * kind, which neither writes, gets no delta but a whole new copy of the file.
 */
function isMd4(signature: Buffer): boolean {
  return signature.length >= 12 && strongKindOf(signature.readUInt32BE(0)) === 'md4';
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}
