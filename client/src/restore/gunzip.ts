/**
 * gzip data (any number of members) inflated by ISA-L's igzip (native/igzip.ts), on this
 * thread. zlib's Gunzip hands every output chunk to the thread pool and back; the restore's
 * main thread then sat idle a quarter of its time waiting for it (bench data: 1.7 s of 6.3).
 * igzip inflates about twice as fast, and here in line with the tar parsing and writing.
 *
 * Members follow as gzip readers take them (zlib, gzip(1)): after a member's trailer, zero bytes
 * are padding and end the data; anything else must be the next member.
 */
import type { Igzip } from '../native/igzip.js';

const OUT_CHUNK = 512 * 1024;
const NOTHING = Buffer.alloc(0);

/** Thrown for data that is not valid gzip, or ends inside a member. */
export class GzipError extends Error {}

export async function* igzipInflate(addon: Igzip, src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const handle = addon.inflater();
  let out = Buffer.allocUnsafeSlow(OUT_CHUNK);
  let made = 0;
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
      }
      const before = made;
      const used = inflate(chunk.subarray(at));
      if (used === 0 && made === before && !between) throw new GzipError('inflate made no progress');
      at += used;
      if (made === out.length) {
        yield out;
        out = Buffer.allocUnsafeSlow(OUT_CHUNK);
        made = 0;
      }
    }
  }
  // igzip may hold output back until it has seen more input: drain it
  while (!between && !padding) {
    const before = made;
    inflate(NOTHING);
    if (made === out.length) {
      yield out;
      out = Buffer.allocUnsafeSlow(OUT_CHUNK);
      made = 0;
    } else if (made === before && !between) throw new GzipError('unexpected end of data inside a gzip member');
  }
  if (made > 0) yield out.subarray(0, made);
}
