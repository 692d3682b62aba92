/**
 * Difftar volumes: tar blocks in, `….difftar.gz.p7m` files out. Blocks are gathered into
 * segments of whole entries; each segment becomes an independent gzip member (duplicity reads
 * multi-member gzip, verified-facts.md), deflated or stored depending on the data, and the
 * members are compressed in parallel on libuv's thread pool while this thread reads and hashes.
 * Members are written in order; a new volume starts before a member that would push the
 * current one over the volume size. The manifest gets each volume's first and last entry and
 * the SHA-1 of the gzip bytes (before CMS), so the decrypted set is a valid duplicity set.
 */
import { gzip as gzipCb, gzipSync } from 'node:zlib';
import type { Recipient } from '@deaddrop/keys';
import { noteAllocated, release } from '@deaddrop/common/young-gc';
import type { PathIndex } from '../scan/path-index.js';
import { EncryptedFileWriter, type StoredFile } from './encrypted-file.js';

export interface BlockPosition {
  index: PathIndex;
  /** Multivol chunk number, unless the entry is unsplit or a final chunk. */
  block?: number;
}

export interface WrittenVolume {
  number: number;
  start: BlockPosition;
  end: BlockPosition;
  stored: StoredFile;
}

export interface VolumeWriterOptions {
  /** Full path of the stored file of volume n. */
  pathOf(volume: number): string;
  recipients: Recipient[];
  /** Bytes of gzip per volume before a new one is started. */
  volumeSize: number;
  /** Deflate level for compressible data (stored blocks otherwise). */
  level: number;
  /** Called as each volume is finished (in order). */
  onVolume?(v: WrittenVolume): Promise<void> | void;
}

interface Segment {
  buf: Buffer;
  len: number;
  first?: BlockPosition;
  last?: BlockPosition;
  /** Data class of the segment's larger pieces; undefined while it holds only small ones. */
  compressible?: boolean;
}

const MAX_IN_FLIGHT = 4;
const SEGMENT_MAX = 1 << 20;

function gzip(data: Buffer, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    gzipCb(data, { level, memLevel: 9 }, (err, out) => (err ? reject(err) : resolve(out))),
  );
}

export class VolumeWriter {
  private readonly segmentTarget: number;
  private readonly pool: Buffer[] = [];
  private seg: Segment;
  private readonly queue: { job: Promise<Buffer>; first: BlockPosition; last: BlockPosition; seg?: Segment }[] = [];
  private volume: { number: number; file: EncryptedFileWriter; start: BlockPosition; end: BlockPosition } | undefined;
  private readonly volumes: WrittenVolume[] = [];
  private count = 0;
  /** Tar bytes and gzip bytes so far. */
  tarBytes = 0;
  gzipBytes = 0;

  constructor(private readonly opts: VolumeWriterOptions) {
    this.segmentTarget = Math.max(64 * 1024, Math.min(SEGMENT_MAX, Math.floor(opts.volumeSize / 8)));
    this.seg = this.newSegment();
  }

  private newSegment(): Segment {
    const size = this.segmentTarget + 80 * 1024;
    return { buf: this.pool.pop() ?? Buffer.allocUnsafe(size), len: 0 };
  }

  /** Append one tar block (header + data + padding) of the entry at `pos`. */
  add(parts: Buffer[], pos: BlockPosition, compressible: boolean | undefined): Promise<void> {
    return this.addBlocks(parts, pos, pos, compressible);
  }

  /** Append whole tar blocks of the entries from `first` to `last`. */
  async addBlocks(parts: Buffer[], first: BlockPosition, last: BlockPosition, compressible: boolean | undefined) {
    let size = 0;
    for (const p of parts) size += p.length;
    const s = this.seg;
    const classChange = compressible !== undefined && s.compressible !== undefined && s.compressible !== compressible;
    if (s.len > 0 && (s.len + size > this.segmentTarget || classChange || s.len + size > s.buf.length))
      await this.dispatch();
    const t = this.seg;
    if (size > t.buf.length) t.buf = Buffer.allocUnsafe(size); // an oversized entry (very long names)
    for (const p of parts) {
      p.copy(t.buf, t.len);
      t.len += p.length;
    }
    t.first ??= first;
    t.last = last;
    if (compressible !== undefined) t.compressible ??= compressible;
    this.tarBytes += size;
  }

  private async dispatch(): Promise<void> {
    const seg = this.seg;
    if (seg.len === 0) return;
    const level = seg.compressible === false ? 0 : this.opts.level;
    this.queue.push({ seg, job: gzip(seg.buf.subarray(0, seg.len), level), first: seg.first!, last: seg.last! });
    this.seg = this.newSegment();
    while (this.queue.length >= MAX_IN_FLIGHT) await this.drainOne();
  }

  private async drainOne(): Promise<void> {
    const { seg, job, first, last } = this.queue.shift()!;
    const member = await job;
    noteAllocated(member.length);
    if (seg && seg.buf.length === this.segmentTarget + 80 * 1024) this.pool.push(seg.buf);
    await this.writeMember(member, first, last);
    release(member); // encrypted now; it waited in the queue, so it may be promoted (young-gc.ts)
  }

  /**
   * Append a gzip member made elsewhere (a worker), after everything added before it. The
   * member's memory is this writer's from here: it is released once written.
   */
  async addMember(member: Uint8Array, first: BlockPosition, last: BlockPosition, tarBytes = 0): Promise<void> {
    await this.dispatch();
    const data = Buffer.isBuffer(member) ? member : Buffer.from(member.buffer, member.byteOffset, member.byteLength);
    this.queue.push({ job: Promise.resolve(data), first, last });
    this.tarBytes += tarBytes;
    while (this.queue.length >= MAX_IN_FLIGHT) await this.drainOne();
  }

  private async writeMember(member: Buffer, first: BlockPosition, last: BlockPosition): Promise<void> {
    const v = this.volume;
    if (v && v.file.plainBytes > 0 && v.file.plainBytes + member.length > this.opts.volumeSize)
      await this.closeVolume();
    if (!this.volume) {
      this.count++;
      this.volume = {
        number: this.count,
        file: new EncryptedFileWriter(this.opts.pathOf(this.count), this.opts.recipients),
        start: first,
        end: last,
      };
    }
    this.volume.end = last;
    this.gzipBytes += member.length;
    await this.volume.file.write(member);
  }

  private async closeVolume(): Promise<void> {
    const v = this.volume!;
    this.volume = undefined;
    const stored = await v.file.close();
    const written: WrittenVolume = { number: v.number, start: v.start, end: v.end, stored };
    this.volumes.push(written);
    await this.opts.onVolume?.(written);
  }

  /** Flush everything; an empty set still gets one volume (an empty gzip member, like duplicity). */
  async finish(): Promise<WrittenVolume[]> {
    await this.dispatch();
    while (this.queue.length > 0) await this.drainOne();
    if (!this.volume && this.count === 0)
      await this.writeMember(gzipSync(Buffer.alloc(0)), { index: [] }, { index: [] });
    if (this.volume) await this.closeVolume();
    return this.volumes;
  }

  abort(): void {
    this.volume?.file.abort();
  }
}
