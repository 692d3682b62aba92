/**
 * Turns planned actions into difftar blocks, signature-archive entries and Filelist lines
 * (formats §5.2–§5.5, §6.1): `snapshot/` entries (the root as `snapshot/./` in volumes,
 * `snapshot/` in the sigtar), `diff/` deltas against the stored signature, `deleted/` markers,
 * and payloads of 64 KiB or more split into `multivol_*` chunks of exactly 64 KiB (a payload
 * of exactly k·64 KiB gets an empty final chunk). Every regular file's new signature is
 * computed from the same bytes that are stored.
 */
import { once } from 'node:events';
import { createDeltaStream, readSignature } from '../rsync/index.js';
import { duplicitySignatureParams } from '../rsync/magic.js';
import type { StrongBlocks } from '../rsync/strongsum.js';
import { dataPadding, encodeHeader, TarType, type TarHeader, type TarTypeFlag } from '../archive/tar-header.js';
import type { ScanEntry } from '../scan/entry.js';
import type { OwnerNames } from '../scan/owners.js';
import { joinIndex, type PathIndex } from '../scan/path-index.js';
import { looksCompressible } from './compressibility.js';
import {
  changedWhileRead,
  CHUNK,
  finishFile,
  prefetchFile,
  restOfFile,
  type OpenedFile,
  type OpenFailure,
} from './file-reader.js';
import type { ManifestWriter } from './manifest-writer.js';
import type { Action } from './plan.js';
import { SignatureBuilder } from './signature-builder.js';
import type { SigtarWriter } from './sigtar-writer.js';
import type { VolumeWriter } from './volume-writer.js';

export interface EntryProblem {
  kind: 'vanished' | 'unreadable' | 'changed';
  path: Buffer;
  message: string;
}

export interface EntryStats {
  newFiles: number;
  changedFiles: number;
  deletedFiles: number;
  /** Objects of other types new or changed. */
  otherEntries: number;
  deletedEntries: number;
  /** Bytes of file content read. */
  bytesRead: number;
  /** Bytes of snapshot content and delta data put into volumes. */
  payloadBytes: number;
}

export interface EntryWriterContext {
  volumes: VolumeWriter;
  sigtar: SigtarWriter;
  manifest: ManifestWriter;
  owners: OwnerNames;
  strong: StrongBlocks;
  onProblem(p: EntryProblem): void;
}

const TYPE_FLAG: Record<ScanEntry['type'], TarTypeFlag> = {
  file: TarType.FILE,
  dir: TarType.DIR,
  symlink: TarType.SYMLINK,
  fifo: TarType.FIFO,
  chardev: TarType.CHARDEV,
  blockdev: TarType.BLOCKDEV,
};

const b = (s: string) => Buffer.from(s);
const ROOT_IN_VOLUME = b('snapshot/./');
const ROOT_IN_SIGTAR = b('snapshot/');

function nameOf(prefix: string, index: PathIndex, dir = false): Buffer {
  return Buffer.concat([b(prefix + '/'), joinIndex(index), dir ? b('/') : Buffer.alloc(0)]);
}

function headerOf(e: ScanEntry, owners: OwnerNames, name: Buffer, size: number): TarHeader {
  const h: TarHeader = {
    name,
    type: TYPE_FLAG[e.type],
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size,
    mtime: e.mtime,
    uname: owners.user(e.uid),
    gname: owners.group(e.gid),
  };
  if (e.linkTarget) h.linkname = e.linkTarget;
  if (e.devmajor !== undefined) {
    h.devmajor = e.devmajor;
    h.devminor = e.devminor;
  }
  return h;
}

function deletedHeader(name: Buffer): TarHeader {
  return { name, type: TarType.FILE, mode: 0, uid: 0, gid: 0, size: 0, mtime: 0, uname: '', gname: '' };
}

/** Lookahead: files ahead in the plan are opened and their first chunk read concurrently. */
const LOOKAHEAD = 32;

export async function writeEntries(actions: AsyncIterable<Action>, ctx: EntryWriterContext): Promise<EntryStats> {
  const stats: EntryStats = {
    newFiles: 0,
    changedFiles: 0,
    deletedFiles: 0,
    otherEntries: 0,
    deletedEntries: 0,
    bytesRead: 0,
    payloadBytes: 0,
  };
  const it = actions[Symbol.asyncIterator]();
  const queue: { action: Action; file?: Promise<OpenedFile | OpenFailure> }[] = [];
  let done = false;
  const fill = async () => {
    while (!done && queue.length < LOOKAHEAD) {
      const r = await it.next();
      if (r.done) {
        done = true;
        break;
      }
      const a = r.value;
      const file = a.op !== 'deleted' && a.entry.type === 'file' ? prefetchFile(a.entry) : undefined;
      // a rejected prefetch is handled when its turn comes; don't let it go unhandled meanwhile
      file?.catch(() => {});
      queue.push({ action: a, file });
    }
  };
  try {
    for (;;) {
      await fill();
      const next = queue.shift();
      if (!next) break;
      await writeAction(next.action, next.file, ctx, stats);
    }
  } finally {
    // close files opened ahead if we stop early
    for (const q of queue) void q.file?.then((f) => ('fh' in f ? f.fh?.close() : undefined)).catch(() => {});
  }
  return stats;
}

async function writeDeleted(index: PathIndex, wasFile: boolean, ctx: EntryWriterContext, stats: EntryStats) {
  const h = deletedHeader(nameOf('deleted', index));
  await ctx.volumes.add([encodeHeader(h)], { index }, undefined);
  await ctx.sigtar.add(h);
  stats.deletedEntries++;
  if (wasFile) {
    stats.deletedFiles++;
    await ctx.manifest.addFile('deleted', index);
  }
}

async function writeAction(
  a: Action,
  file: Promise<OpenedFile | OpenFailure> | undefined,
  ctx: EntryWriterContext,
  stats: EntryStats,
): Promise<void> {
  if (a.op === 'deleted') return writeDeleted(a.index, a.wasFile, ctx, stats);
  const e = a.entry;
  if (e.type !== 'file') {
    const isRoot = e.index.length === 0;
    const isDir = e.type === 'dir';
    const h = headerOf(e, ctx.owners, isRoot ? ROOT_IN_VOLUME : nameOf('snapshot', e.index, isDir), 0);
    await ctx.volumes.add([encodeHeader(h)], { index: e.index }, undefined);
    await ctx.sigtar.add({ ...h, name: isRoot ? ROOT_IN_SIGTAR : h.name });
    stats.otherEntries++;
    return;
  }
  const opened = await file!;
  if (!('first' in opened)) {
    const hadOld = a.op === 'changed';
    if (opened.kind === 'vanished' || opened.kind === 'not-a-file') {
      // gone (or no longer a file) since the scan: as if the scan had not seen it
      ctx.onProblem({ kind: 'vanished', path: e.path, message: opened.message });
      if (hadOld) await writeDeleted(e.index, a.old.type === 'file', ctx, stats);
    } else ctx.onProblem({ kind: 'unreadable', path: e.path, message: `${opened.message}; skipped` });
    return;
  }
  const params = duplicitySignatureParams(e.size);
  const sig = new SignatureBuilder(params, ctx.strong);
  if (a.op === 'changed' && a.signature) await writeDiff(e, opened, a.signature, sig, ctx, stats);
  else await writeSnapshot(e, opened, sig, ctx, stats);
  const changed = changedWhileRead(e, opened);
  if (changed)
    ctx.onProblem({
      kind: 'changed',
      path: e.path,
      message: `changed while being read; stored ${opened.read} of ${Number(opened.stat.size)} bytes, taken again next run`,
    });
  stats.bytesRead += opened.read;
  const signature = sig.finish();
  const h = headerOf(e, ctx.owners, nameOf('signature', e.index), signature.length);
  if (changed) h.mtime = 0; // the next incremental sees a difference and reads it again
  await ctx.sigtar.add(h, signature);
  if (a.op === 'new') stats.newFiles++;
  else stats.changedFiles++;
  await ctx.manifest.addFile(a.op, e.index);
}

/** Emits a payload as one entry or as 64 KiB multivol chunks (formats §5.5). */
export class Chunker {
  private k = 0;
  constructor(
    private readonly e: ScanEntry,
    private readonly single: string,
    private readonly multi: string,
    private readonly ctx: EntryWriterContext,
    private readonly stats: EntryStats,
  ) {}

  /** A chunk of exactly 64 KiB that is not the last one. */
  async full(chunk: Buffer): Promise<void> {
    this.k++;
    await this.put(Buffer.concat([nameOf(this.multi, this.e.index), b(`/${this.k}`)]), chunk, this.k);
  }

  /** The final chunk (< 64 KiB, possibly empty), or the whole payload when nothing came before. */
  async last(chunk: Buffer): Promise<void> {
    if (this.k === 0) await this.put(nameOf(this.single, this.e.index), chunk, undefined);
    else await this.put(Buffer.concat([nameOf(this.multi, this.e.index), b(`/${this.k + 1}`)]), chunk, undefined);
  }

  private async put(name: Buffer, data: Buffer, block: number | undefined): Promise<void> {
    const h = headerOf(this.e, this.ctx.owners, name, data.length);
    const parts = data.length ? [encodeHeader(h), data, dataPadding(data.length)] : [encodeHeader(h)];
    const pos = block === undefined ? { index: this.e.index } : { index: this.e.index, block };
    await this.ctx.volumes.add(parts, pos, data.length >= 1024 ? looksCompressible(data) : undefined);
    this.stats.payloadBytes += data.length;
  }
}

async function writeSnapshot(
  e: ScanEntry,
  f: OpenedFile,
  sig: SignatureBuilder,
  ctx: EntryWriterContext,
  stats: EntryStats,
): Promise<void> {
  const out = new Chunker(e, 'snapshot', 'multivol_snapshot', ctx, stats);
  sig.update(f.first);
  if (f.first.length < CHUNK) {
    await finishFile(f);
    return out.last(f.first);
  }
  let pending = f.first;
  for await (const chunk of restOfFile(e, f)) {
    sig.update(chunk);
    await out.full(pending);
    pending = chunk;
  }
  if (pending.length === CHUNK) {
    await out.full(pending);
    pending = Buffer.alloc(0);
  }
  await out.last(pending);
}

async function writeDiff(
  e: ScanEntry,
  f: OpenedFile,
  oldSignature: Buffer,
  sig: SignatureBuilder,
  ctx: EntryWriterContext,
  stats: EntryStats,
): Promise<void> {
  const out = new Chunker(e, 'diff', 'multivol_diff', ctx, stats);
  const delta = createDeltaStream(await readSignature(oldSignature, `signature of ${e.path.toString()}`));
  // delta bytes are re-cut into 64 KiB pieces, in a loop of their own (backpressure both ways)
  const consumer = (async () => {
    const parts: Buffer[] = [];
    let have = 0;
    for await (const d of delta as AsyncIterable<Buffer>) {
      parts.push(d);
      have += d.length;
      while (have >= CHUNK) {
        const all = Buffer.concat(parts, have);
        await out.full(all.subarray(0, CHUNK));
        parts.length = 0;
        have -= CHUNK;
        if (have > 0) parts.push(all.subarray(CHUNK));
      }
    }
    await out.last(Buffer.concat(parts, have));
  })();
  consumer.catch(() => {});
  const feed = async (chunk: Buffer) => {
    sig.update(chunk);
    if (!delta.write(chunk)) await Promise.race([once(delta, 'drain'), consumer]);
  };
  try {
    await feed(f.first);
    if (f.first.length === CHUNK) for await (const chunk of restOfFile(e, f)) await feed(chunk);
    else await finishFile(f);
    delta.end();
    await consumer;
  } catch (err) {
    delta.destroy();
    await finishFile(f);
    throw err;
  }
}

/** One changed file sent as a delta against its stored signature (on this thread). */
export async function writeDiffAction(
  a: Extract<Action, { op: 'changed' }>,
  ctx: EntryWriterContext,
  stats: EntryStats,
): Promise<void> {
  const file = prefetchFile(a.entry);
  await writeAction(a, file, ctx, stats);
}
