/**
 * What the main thread writes itself while the workers pack the rest (parallel-writer.ts):
 * `diff/` deltas of small changed files against their stored signature, `deleted/` markers,
 * and large payloads cut into `multivol_*` chunks of exactly 64 KiB (formats §5.2–§5.5, §6.1;
 * a payload of exactly k·64 KiB gets an empty final chunk). A file's new signature is computed
 * from the same bytes that are stored.
 */
import { once } from 'node:events';
import { createDeltaStream, readSignature } from '../rsync/index.js';
import { duplicitySignatureParams } from '../rsync/magic.js';
import type { StrongBlocks } from '../rsync/strongsum.js';
import { dataPadding, encodeHeader } from '../archive/tar-header.js';
import type { ScanEntry } from '../scan/entry.js';
import type { OwnerNames } from '../scan/owners.js';
import type { PathIndex } from '../scan/path-index.js';
import { looksCompressible } from './compressibility.js';
import { chunkName, deletedHeader, entryName, headerOf } from './entry-names.js';
import type { EntryStats } from './entry-stats.js';
import { changedWhileRead, CHUNK, finishFile, prefetchFile, restOfFile, type OpenedFile } from './file-reader.js';
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

export interface EntryWriterContext {
  volumes: VolumeWriter;
  sigtar: SigtarWriter;
  manifest: ManifestWriter;
  owners: OwnerNames;
  strong: StrongBlocks;
  onProblem(p: EntryProblem): void;
}

/** A `deleted/` marker (and the Filelist line when a file went). */
export async function writeDeleted(index: PathIndex, wasFile: boolean, ctx: EntryWriterContext, stats: EntryStats) {
  const h = deletedHeader(entryName('deleted', index));
  await ctx.volumes.add([encodeHeader(h)], { index }, undefined);
  await ctx.sigtar.add(h);
  stats.deletedEntries++;
  if (wasFile) {
    stats.deletedFiles++;
    await ctx.manifest.addFile('deleted', index);
  }
}

/** A changed file with its stored signature. */
export type DiffAction = Extract<Action, { op: 'changed' }> & { signature: Buffer };

/**
 * One changed file sent as a delta against its stored signature, on this thread (the small
 * ones: large files go to the workers in ranges, parallel-writer.ts).
 */
export async function writeDiffAction(a: DiffAction, ctx: EntryWriterContext, stats: EntryStats): Promise<void> {
  const e = a.entry;
  const opened = await prefetchFile(e);
  if (!('first' in opened)) {
    if (opened.kind === 'vanished' || opened.kind === 'not-a-file') {
      // gone (or no longer a file) since the scan: as if the scan had not seen it
      ctx.onProblem({ kind: 'vanished', path: e.path, message: opened.message });
      await writeDeleted(e.index, a.old.type === 'file', ctx, stats);
    } else ctx.onProblem({ kind: 'unreadable', path: e.path, message: `${opened.message}; skipped` });
    return;
  }
  const sig = new SignatureBuilder(duplicitySignatureParams(e.size), ctx.strong);
  await writeDiff(e, opened, a.signature, sig, ctx, stats);
  const changed = changedWhileRead(e, opened);
  if (changed)
    ctx.onProblem({
      kind: 'changed',
      path: e.path,
      message: `changed while being read; stored ${opened.read} of ${Number(opened.stat.size)} bytes, taken again next run`,
    });
  stats.bytesRead += opened.read;
  const signature = sig.finish();
  const h = headerOf(e, ctx.owners, entryName('signature', e.index), signature.length);
  if (changed) h.mtime = 0; // the next incremental sees a difference and reads it again
  await ctx.sigtar.add(h, signature);
  stats.changedFiles++;
  await ctx.manifest.addFile('changed', e.index);
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
    await this.put(chunkName(this.multi, this.e.index, this.k), chunk, this.k);
  }

  /** The final chunk (< 64 KiB, possibly empty), or the whole payload when nothing came before. */
  async last(chunk: Buffer): Promise<void> {
    if (this.k === 0) await this.put(entryName(this.single, this.e.index), chunk, undefined);
    else await this.put(chunkName(this.multi, this.e.index, this.k + 1), chunk, undefined);
  }

  private async put(name: Buffer, data: Buffer, block: number | undefined): Promise<void> {
    const h = headerOf(this.e, this.ctx.owners, name, data.length);
    const parts = data.length ? [encodeHeader(h), data, dataPadding(data.length)] : [encodeHeader(h)];
    const pos = block === undefined ? { index: this.e.index } : { index: this.e.index, block };
    await this.ctx.volumes.add(parts, pos, data.length >= 1024 ? looksCompressible(data) : undefined);
    this.stats.payloadBytes += data.length;
  }
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
