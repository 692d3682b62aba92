/**
 * What the main thread writes itself while the workers pack the rest (parallel-writer.ts):
 * `deleted/` markers of files that vanished, and a large changed file's delta, which workers
 * send in ranges, cut into `multivol_diff` chunks of exactly 64 KiB (formats §5.2–§5.5, §6.1;
 * a payload of exactly k·64 KiB gets an empty final chunk).
 */
import { dataPadding, encodeHeader } from '../archive/tar-header.js';
import type { ScanEntry } from '../scan/entry.js';
import type { OwnerNames } from '../scan/owners.js';
import type { PathIndex } from '../scan/path-index.js';
import { looksCompressible } from './compressibility.js';
import { chunkName, deletedHeader, entryName, headerOf } from './entry-names.js';
import type { EntryStats } from './entry-stats.js';
import type { ManifestWriter } from './manifest-writer.js';
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
