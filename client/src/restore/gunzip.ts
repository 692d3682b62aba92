/**
 * gzip data (any number of members) inflated by ISA-L's igzip (native/igzip.ts), on this
 * thread. zlib's Gunzip hands every output chunk to the thread pool and back; the restore's
 * main thread then sat idle a quarter of its time waiting for it (bench data: 1.7 s of 6.3).
 * igzip inflates about twice as fast, and here in line with the tar parsing and writing.
 *
 * Members follow as gzip readers take them (zlib, gzip(1)): after a member's trailer, zero bytes
 * are padding and end the data; anything else must be the next member. Each member's header
 * (RFC 1952 §2.3) is read here, not by igzip (see igzip.c), and refused where zlib refuses it:
 * not gzip's magic or deflate, reserved flags set, a wrong header CRC.
 */
import { crc32 } from 'node:zlib';
import { BufferRing } from '@deaddrop/common/buffer-ring';
import { noteAllocated } from '@deaddrop/common/young-gc';
import type { IgzipInflate } from '../native/igzip.js';

const OUT_CHUNK = 512 * 1024;
const NOTHING = Buffer.alloc(0);

/**
 * A fresh output buffer, counted towards the next scavenge (common/young-gc.ts) as the read and
 * decrypt buffers are: they are half the restore's garbage (bench restore of 1 GiB: peak RSS
 * 95-98 -> 86-89 MiB with young-gc's 4 MiB budget).
 */
function freshBuffer(): Buffer {
  noteAllocated(OUT_CHUNK);
  return Buffer.allocUnsafeSlow(OUT_CHUNK);
}

/** Output buffers reused in turn (`reuse`): a chunk stays valid while the next RING - 1 are made. */
const RING = 3;

/**
 * Where the output goes: fresh buffers, or (`reuse`, for a reader that copies or is done with
 * each chunk by the time it asks for the one after next) a ring of RING: no garbage at all.
 * A chunk held past that lives on in V8's old generation until a full GC; 1 GiB of them made
 * the bench restore's peak RSS.
 */
function outputBuffers(reuse: boolean): () => Buffer {
  if (!reuse) return freshBuffer;
  const ring = new BufferRing(RING, OUT_CHUNK);
  return () => ring.take();
}
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const RESERVED = 0xe0;

/** Thrown for data that is not valid gzip, or ends inside a member. */
export class GzipError extends Error {}

/**
 * The length of the gzip header at the start of `b`, or 0 when `b` ends before the header does.
 * Throws for a header zlib would refuse.
 */
export function gzipHeaderLength(b: Buffer): number {
  const have = (n: number) => b.length >= n;
  if (have(1) && b[0] !== 0x1f) throw new GzipError('not a gzip header');
  if (have(2) && b[1] !== 0x8b) throw new GzipError('not a gzip header');
  if (have(3) && b[2] !== 8) throw new GzipError('unknown compression method');
  if (have(4) && b[3]! & RESERVED) throw new GzipError('unknown header flags set');
  if (!have(10)) return 0;
  const flags = b[3]!;
  let at = 10;
  if (flags & FEXTRA) {
    if (!have(at + 2)) return 0;
    at += 2 + b.readUInt16LE(at);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    const nul = b.indexOf(0, at);
    if (nul < 0) return 0;
    at = nul + 1;
  }
  if (flags & FHCRC) {
    if (!have(at + 2)) return 0;
    if ((crc32(b.subarray(0, at)) & 0xffff) !== b.readUInt16LE(at)) throw new GzipError('header crc mismatch');
    at += 2;
  }
  return have(at) ? at : 0;
}

export async function* igzipInflate(
  addon: IgzipInflate,
  src: AsyncIterable<Buffer>,
  reuse = false,
): AsyncGenerator<Buffer> {
  const handle = addon.inflater();
  const outputBuffer = outputBuffers(reuse);
  let out = outputBuffer();
  let made = 0;
  /** Reading a member's header: its bytes so far (they may come in several pieces). */
  let header: Buffer | undefined = NOTHING;
  /** Between members: the next byte tells a new member from padding. */
  let between = false;
  let padding = false;
  const inflate = (input: Buffer): number => {
    let used: number, produced: number, ended: boolean;
    try {
      [used, produced, ended] = addon.inflate(handle, input, out.subarray(made));
    } catch (err) {
      throw new GzipError((err as Error).message);
    }
    made += produced;
    if (ended) between = true;
    return used;
  };
  for await (const chunk of src) {
    let at = 0;
    while (at < chunk.length && !padding) {
      if (between) {
        if (chunk[at] === 0) {
          padding = true; // the rest is not read (it is hashed by the caller all the same)
          break;
        }
        between = false;
        header = NOTHING;
      }
      if (header) {
        // its bytes are copied (a header is short; the piece it starts in is not kept), a KiB
        // at first, more only for long optional fields
        let take = Math.min(chunk.length - at, 1024);
        let joined: Buffer;
        let length: number;
        for (;;) {
          joined = Buffer.concat([header, chunk.subarray(at, at + take)]);
          length = gzipHeaderLength(joined);
          if (length > 0 || at + take === chunk.length) break;
          take = Math.min(chunk.length - at, take * 4);
        }
        if (length === 0) {
          header = joined; // the header goes on in the next piece
          break;
        }
        at += length - header.length;
        header = undefined;
        continue;
      }
      const before = made;
      const used = inflate(chunk.subarray(at));
      if (used === 0 && made === before && !between) throw new GzipError('inflate made no progress');
      at += used;
      if (made === out.length) {
        yield out;
        out = outputBuffer();
        made = 0;
      }
    }
  }
  if (header && !padding) throw new GzipError('unexpected end of data inside a gzip header');
  // igzip may hold output back until it has seen more input: drain it
  while (!between && !padding) {
    const before = made;
    inflate(NOTHING);
    if (made === out.length) {
      yield out;
      out = outputBuffer();
      made = 0;
    } else if (made === before && !between) throw new GzipError('unexpected end of data inside a gzip member');
  }
  if (made > 0) yield out.subarray(0, made);
}
