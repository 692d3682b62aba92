/**
 * Runs one job, synchronously (it runs in a worker thread, or inline without workers): reads
 * the files with blocking calls, builds the tar blocks, the signatures and the signature
 * archive entries, and deflates the tar bytes into gzip members (stored when the data does
 * not compress). A file's content is exactly its scanned size: if it shrank the rest is zeros,
 * if it grew the rest is left for the next run. A file whose size, mtime or ctime after the read
 * is not what the scan saw changed while it was read (maybe a torn copy): it is reported, and
 * its signature entry gets mtime 0 so the next incremental reads it again.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type BigIntStats } from 'node:fs';
import { noteAllocated } from '@deaddrop/common/young-gc';
import { dataPadding, encodeHeader } from '../archive/tar-header.js';
import { deltaOfRange } from '../rsync/delta.js';
import { duplicitySignatureParams, type SignatureParams } from '../rsync/magic.js';
import { md4Blocks } from '../rsync/md4-lanes.js';
import { parseSignature, type Signature } from '../rsync/read-signature.js';
import { SumIndex } from '../rsync/sum-index.js';
import type { StrongBlocks } from '../rsync/strongsum.js';
import { pythonMtime, type ScanEntry } from '../scan/entry.js';
import type { OwnerNames } from '../scan/owners.js';
import { looksCompressible } from './compressibility.js';
import { chunkName, deletedHeader, entryName, headerOf, metaHeaders, signatureSize } from './entry-names.js';
import { emptyStats } from './entry-stats.js';
import { gzipMember } from './gzip-member.js';
import type { Job, JobItem, JobProblem, JobResult, Member, RangeOutcome } from './jobs.js';
import { SignatureBuilder } from './signature-builder.js';
import type { BlockPosition } from './volume-writer.js';

const CHUNK = 64 * 1024;
const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/**
 * Tar bytes per gzip member at most: a large file's range of 16 chunks with their headers
 * (jobs.ts rangeChunks), so a range is one member. (At 1 MiB each range was cut 15 + 1 chunks,
 * and every 16th chunk deflated alone, with no window behind it.)
 */
const MEMBER_MAX = 16 * (CHUNK + 512);
/** Fewer tar bytes than this go to the main thread as they are (Member.raw). */
const RAW_MAX = 64 * 1024;

export interface ExecContext {
  owners: OwnerNames;
  strong: StrongBlocks;
}

/** The tar bytes of the member being built; one per thread, reused by every job. */
let memberInput = Buffer.allocUnsafe(MEMBER_MAX + 160 * 1024);

/**
 * Builds gzip members from tar blocks: one member per run of same-class data, at most
 * MEMBER_MAX tar bytes. Blocks are copied into one reused input buffer, and zlib writes each
 * member into a buffer of its own that is transferred (not copied) to the main thread: a
 * worker makes almost no garbage, so its memory stays flat. (An input buffer per job was
 * garbage that only a full GC freed: 2 x 30-37 MiB of malloc arenas in a 1 GiB full backup.)
 */
class MemberBuilder {
  private buf = memberInput;
  private len = 0;
  private first: BlockPosition | undefined;
  private last: BlockPosition | undefined;
  private cls: boolean | undefined;
  readonly members: Member[] = [];
  tarBytes = 0;

  constructor(private readonly level: number) {}

  add(parts: Buffer[], pos: BlockPosition, compressible: boolean | undefined): void {
    let size = 0;
    for (const p of parts) size += p.length;
    const change = compressible !== undefined && this.cls !== undefined && compressible !== this.cls;
    if (this.len > 0 && (change || this.len + size > MEMBER_MAX)) this.flush();
    if (this.len + size > this.buf.length) {
      // a very long name: grow, keeping what is already here
      const bigger = Buffer.allocUnsafe(this.len + size);
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = memberInput = bigger;
    }
    for (const p of parts) this.len += p.copy(this.buf, this.len);
    this.tarBytes += size;
    this.first ??= pos;
    this.last = pos;
    if (compressible !== undefined) this.cls ??= compressible;
  }

  flush(): void {
    if (this.len === 0) return;
    if (this.len < RAW_MAX) {
      // its own buffer (never a pool slab: a worker transfers it)
      const data = new Uint8Array(this.len);
      data.set(this.buf.subarray(0, this.len));
      this.members.push({ data, first: this.first!, last: this.last!, raw: true, compressible: this.cls });
    } else this.pushDeflated();
    this.len = 0;
    this.first = this.last = this.cls = undefined;
  }

  private pushDeflated(): void {
    const level = this.cls === false ? 0 : this.level;
    const gz = gzipMember(this.buf.subarray(0, this.len), level);
    // zlib's output buffer is sized for stored data; a compressed member gets a buffer of its
    // own size, so the main thread does not hold ~1 MiB per member while it waits its turn
    // (and never a shared pool slab)
    const exact = gz.buffer.byteLength >= 8192 && gz.length >= gz.buffer.byteLength - 64 * 1024;
    const data = exact ? gz : Uint8Array.from(gz);
    if (!exact) noteAllocated(gz.buffer.byteLength);
    this.members.push({ data, first: this.first!, last: this.last! });
  }
}

/** Reads [pos, pos + want) into buf; returns bytes read (less at EOF). */
function readAt(fd: number, buf: Buffer, want: number, pos: number): number {
  let got = 0;
  while (got < want) {
    const n = readSync(fd, buf, got, want - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

let scratchBuf = Buffer.alloc(0);
/** A reusable buffer of `size` bytes, zero-filled by the caller's read or fill. */
function scratch(size: number): Buffer {
  if (scratchBuf.length < size) scratchBuf = Buffer.allocUnsafe(Math.max(size, 64 * 1024));
  return scratchBuf.subarray(0, size);
}

let cachedSignature: { key: number; sig: Signature; index: SumIndex } | undefined;

function sameParams(a: SignatureParams, b: SignatureParams): boolean {
  return a.magic === b.magic && a.blockLen === b.blockLen && a.strongLen === b.strongLen;
}

/** The stored signature of a delta-range's file, parsed and indexed once per thread. */
function oldSignature(item: Extract<JobItem, { kind: 'delta-range' }>): { sig: Signature; index: SumIndex } {
  if (cachedSignature?.key !== item.sigKey) {
    cachedSignature = undefined; // drop the last file's table before building this one
    const sig = parseSignature(item.oldSignature, `stored signature of ${Buffer.from(item.entry.path).toString()}`);
    cachedSignature = { key: item.sigKey, sig, index: new SumIndex(sig) };
  }
  return cachedSignature;
}

type Opened = { fd: number } | { failed: NonNullable<RangeOutcome['failed']> };

function openFile(path: Uint8Array): Opened {
  let fd: number;
  try {
    fd = openSync(Buffer.from(path.buffer, path.byteOffset, path.byteLength), FLAGS);
  } catch (err) {
    const c = (err as NodeJS.ErrnoException).code ?? String(err);
    if (c === 'ENOENT' || c === 'ENOTDIR')
      return { failed: { kind: 'vanished', message: 'vanished before it was read' } };
    if (c === 'ELOOP') return { failed: { kind: 'not-a-file', message: 'became a symlink before it was read' } };
    return { failed: { kind: 'unreadable', message: `cannot open (${c})` } };
  }
  const st = fstatSync(fd, { bigint: true });
  if (!st.isFile()) {
    closeSync(fd);
    return { failed: { kind: 'not-a-file', message: 'is no longer a regular file' } };
  }
  return { fd };
}

/**
 * The file is not as scanned: its size, its mtime, or its ctime. A rewrite whose writer put the
 * size and mtime back (utimes, touch -d) still moved the ctime, which nothing can set back; so
 * does a chmod, chown or new hard link (read again next run for nothing, rarely). Each range
 * of a large file compares against the scan, not against its own open: a rewrite between two
 * ranges shows in the later one.
 */
function differs(e: ScanEntry, st: BigIntStats): boolean {
  return Number(st.size) !== e.size || pythonMtime(st) !== e.mtime || st.ctimeNs !== e.ctimeNs;
}

/** Normalise an entry after structured cloning (Buffers arrive as Uint8Arrays). */
function asBuffers(e: ScanEntry): ScanEntry {
  const buf = (u: Uint8Array) => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));
  return {
    ...e,
    index: e.index.map(buf),
    path: buf(e.path),
    ...(e.linkTarget ? { linkTarget: buf(e.linkTarget) } : {}),
  };
}

export function runJob(job: Job, ctx: ExecContext): JobResult {
  const out = new MemberBuilder(job.level);
  const sigtar: Buffer[] = [];
  const result: JobResult = {
    id: job.id,
    members: out.members,
    sigtar: new Uint8Array(0),
    files: [],
    problems: [],
    stats: emptyStats(),
    tarBytes: 0,
  };
  const problem = (kind: JobProblem['kind'], path: Uint8Array, message: string) =>
    result.problems.push({ kind, path, message });
  const sigEntry = (h: Parameters<typeof encodeHeader>[0], data?: Buffer) => {
    sigtar.push(encodeHeader(h));
    if (data && data.length) sigtar.push(data, dataPadding(data.length));
  };
  const deleted = (index: Buffer[], wasFile: boolean) => {
    const h = deletedHeader(entryName('deleted', index));
    out.add([encodeHeader(h)], { index }, undefined);
    sigEntry(h);
    result.stats.deletedEntries++;
    if (wasFile) {
      result.stats.deletedFiles++;
      result.files.push({ change: 'deleted', index });
    }
  };

  for (const raw of job.items) {
    const item: JobItem =
      raw.kind === 'deleted'
        ? { ...raw, index: raw.index.map((u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength)) }
        : { ...raw, entry: asBuffers(raw.entry) };
    if (item.kind === 'deleted') deleted(item.index, item.wasFile);
    else if (item.kind === 'meta') {
      const { volume, sigtar: sh } = metaHeaders(item.entry, ctx.owners);
      out.add([encodeHeader(volume)], { index: item.entry.index }, undefined);
      sigEntry(sh);
      result.stats.otherEntries++;
    } else if (item.kind === 'file') smallFile(item);
    else if (item.kind === 'diff') diffFile(item);
    else if (item.kind === 'range') rangeOf(item);
    else deltaRange(item);
  }
  out.flush();
  result.tarBytes = out.tarBytes;
  result.sigtar = Buffer.concat(sigtar);
  noteAllocated(result.sigtar.length + 64 * 1024); // the rest of this job's garbage is small
  return result;

  function smallFile(item: Extract<JobItem, { kind: 'file' }>): void {
    const e = item.entry;
    const read = readWhole(e, item.hadOld, item.oldWasFile);
    if (!read) return;
    const params = duplicitySignatureParams(e.size);
    const sigBytes = signatureSize(e.size, params.blockLen, params.strongLen);
    const sig = new SignatureBuilder(params, ctx.strong, true, sigBytes);
    sig.update(read.data);
    addChunked(e, read.data, 'snapshot', 'multivol_snapshot');
    finishSignature(e, sig.finish(), read.changed, item.change);
  }

  /** A small changed file: its delta against the stored signature, chunked as a snapshot is. */
  function diffFile(item: Extract<JobItem, { kind: 'diff' }>): void {
    const e = item.entry;
    const read = readWhole(e, true, true);
    if (!read) return;
    const old = parseSignature(item.oldSignature, `stored signature of ${e.path.toString()}`);
    const params = duplicitySignatureParams(e.size);
    const sig = new SignatureBuilder(
      params,
      ctx.strong,
      true,
      signatureSize(e.size, params.blockLen, params.strongLen),
    );
    const matched = sameParams(old, params) ? new Int32Array(Math.floor(e.size / params.blockLen)) : undefined;
    matched?.fill(-1);
    const delta = deltaOfRange(old, new SumIndex(old), md4Blocks, read.data, { first: true, last: true, matched });
    if (matched) sig.updateReusing(read.data, matched, old);
    else sig.update(read.data);
    addChunked(e, Buffer.from(delta.buffer, delta.byteOffset, delta.byteLength), 'diff', 'multivol_diff');
    finishSignature(e, sig.finish(), read.changed, 'changed');
  }

  /**
   * A whole file of its scanned size (zeros past a shrunken end), or undefined when it could
   * not be read (reported; one that is gone gets a deletion when the state had it).
   */
  function readWhole(
    e: ScanEntry,
    hadOld: boolean,
    oldWasFile: boolean,
  ): { data: Buffer; changed: boolean } | undefined {
    const opened = openFile(e.path);
    if ('failed' in opened) {
      if (opened.failed.kind === 'unreadable') problem('unreadable', e.path, `${opened.failed.message}; skipped`);
      else {
        problem('vanished', e.path, opened.failed.message);
        if (hadOld) deleted(e.index, oldWasFile);
      }
      return undefined;
    }
    const data = scratch(e.size);
    try {
      const got = readAt(opened.fd, data, e.size, 0);
      if (got < e.size) data.fill(0, got); // shrank since the scan: zeros up to the scanned size
      const st = fstatSync(opened.fd, { bigint: true });
      result.stats.bytesRead += e.size;
      return { data, changed: got !== e.size || differs(e, st) };
    } catch (err) {
      problem('unreadable', e.path, `read failed (${(err as NodeJS.ErrnoException).code}); skipped`);
      return undefined;
    } finally {
      closeSync(opened.fd);
    }
  }

  /** A payload as one entry or 64 KiB multivol chunks (formats §5.5), for a size known in advance. */
  function addChunked(e: ScanEntry, payload: Buffer, single: string, multi: string): void {
    let k = 0;
    for (let at = 0; ; at += CHUNK) {
      const piece = payload.subarray(at, Math.min(at + CHUNK, payload.length));
      const final = piece.length < CHUNK;
      const name = final && k === 0 ? entryName(single, e.index) : chunkName(multi, e.index, ++k);
      const h = headerOf(e, ctx.owners, name, piece.length);
      const parts = piece.length ? [encodeHeader(h), piece, dataPadding(piece.length)] : [encodeHeader(h)];
      const pos = final ? { index: e.index } : { index: e.index, block: k };
      out.add(parts, pos, piece.length >= 1024 ? looksCompressible(piece) : undefined);
      result.stats.payloadBytes += piece.length;
      if (final) break;
    }
  }

  function finishSignature(e: ScanEntry, signature: Buffer, changed: boolean, change: 'new' | 'changed' | 'deleted') {
    if (changed)
      problem('changed', e.path, 'changed while being read; stored at its scanned size, taken again next run');
    const h = headerOf(e, ctx.owners, entryName('signature', e.index), signature.length);
    if (changed) h.mtime = 0; // the next incremental reads it again, whatever its mtime (compare.ts)
    sigEntry(h, signature);
    if (change === 'new') result.stats.newFiles++;
    else result.stats.changedFiles++;
    result.files.push({ change, index: e.index });
  }

  function rangeOf(item: Extract<JobItem, { kind: 'range' }>): void {
    const e = item.entry;
    const params = duplicitySignatureParams(e.size);
    const opened = openFile(e.path);
    const outcome: RangeOutcome = { signature: new Uint8Array(0), changed: false };
    result.range = outcome;
    if ('failed' in opened && item.from === 0) {
      outcome.failed = opened.failed;
      return;
    }
    const fd = 'fd' in opened ? opened.fd : -1;
    if (fd < 0) outcome.changed = true; // gone after its first range was read: zeros
    const span = Math.min(item.to * CHUNK, e.size) - item.from * CHUNK;
    const records = Math.ceil(Math.max(0, span) / params.blockLen) * (4 + params.strongLen);
    const sig = new SignatureBuilder(params, ctx.strong, item.from === 0, records + (item.from === 0 ? 12 : 0));
    const buf = scratch(CHUNK);
    const lastChunk = Math.floor(e.size / CHUNK); // 0-based index of the final (short) chunk
    try {
      for (let c = item.from; c < item.to; c++) {
        const at = c * CHUNK;
        const want = Math.min(CHUNK, e.size - at);
        let got = 0;
        if (fd >= 0 && want > 0) {
          try {
            got = readAt(fd, buf, want, at);
          } catch {
            got = 0;
          }
        }
        if (got < want) {
          buf.fill(0, got, want);
          outcome.changed = true;
        }
        const piece = buf.subarray(0, want);
        sig.update(piece);
        const final = c === lastChunk;
        const h = headerOf(e, ctx.owners, chunkName('multivol_snapshot', e.index, c + 1), want);
        const parts = want ? [encodeHeader(h), piece, dataPadding(want)] : [encodeHeader(h)];
        out.add(
          parts,
          final ? { index: e.index } : { index: e.index, block: c + 1 },
          want >= 1024 ? looksCompressible(piece) : undefined,
        );
        result.stats.payloadBytes += want;
        result.stats.bytesRead += got;
      }
      if (fd >= 0 && differs(e, fstatSync(fd, { bigint: true }))) outcome.changed = true;
    } finally {
      if (fd >= 0) closeSync(fd);
    }
    outcome.signature = sig.finish(); // ranges hold whole blocks: only the last one has a short block
  }

  function deltaRange(item: Extract<JobItem, { kind: 'delta-range' }>): void {
    const e = item.entry;
    const outcome: RangeOutcome = { signature: new Uint8Array(0), changed: false };
    result.range = outcome;
    const opened = openFile(e.path);
    if ('failed' in opened && item.from === 0) {
      outcome.failed = opened.failed;
      return;
    }
    const fd = 'fd' in opened ? opened.fd : -1;
    if (fd < 0) outcome.changed = true; // gone after its first range was read: zeros
    const want = item.to - item.from;
    const data = scratch(want);
    let got = 0;
    try {
      if (fd >= 0) {
        try {
          got = readAt(fd, data, want, item.from);
        } catch {
          got = 0;
        }
        if (differs(e, fstatSync(fd, { bigint: true }))) outcome.changed = true;
      }
    } finally {
      if (fd >= 0) closeSync(fd);
    }
    if (got < want) {
      data.fill(0, got, want); // shrank since the scan: zeros up to the scanned size
      outcome.changed = true;
    }
    result.stats.bytesRead += got;
    const params = duplicitySignatureParams(e.size);
    const first = item.from === 0;
    const records = Math.ceil(want / params.blockLen) * (4 + params.strongLen);
    const sig = new SignatureBuilder(params, ctx.strong, first, records + (first ? 12 : 0));
    const old = oldSignature(item);
    // blocks the delta finds in place keep their stored records (same parameters: the usual case)
    const matched = sameParams(old.sig, params) ? new Int32Array(Math.floor(want / params.blockLen)) : undefined;
    matched?.fill(-1);
    const range = { first, last: item.to === e.size, from: item.from, matched };
    const delta = deltaOfRange(old.sig, old.index, md4Blocks, data, range);
    if (matched) sig.updateReusing(data, matched, old.sig);
    else sig.update(data);
    outcome.signature = sig.finish();
    outcome.delta = delta; // transferred to the main thread
    noteAllocated(delta.length);
  }
}
