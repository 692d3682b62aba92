/**
 * One gzip member of a piece of tar. Deflate levels 1-3 go to ISA-L's igzip (the optional addon,
 * native/igzip.ts), which deflates the bench's logs
 * faster than zlib to about the same size (below); other levels, and hosts without the addon,
 * use zlib. Either way the member has zlib's header, so the bytes differ only inside the deflate
 * stream (docs/FORMAT.md "Volume compression"). DEADDROP_DEFLATE=zlib turns the addon off.
 */
import { gzipSync } from 'node:zlib';
import { igzip } from '../native/igzip.js';

/**
 * igzip's level for zlib's levels 1-3: one up, for members about the size of zlib's. On the
 * bench's syslog in 1 MiB members: zlib 2 makes 50.5 MB in 1.18 s, igzip 2 51.0 MB in 0.39 s,
 * igzip 3 49.2 MB in 0.93 s. Its nginx log comes out 2.6% larger at igzip 3 than at zlib 2, the
 * other logs and the small files smaller; the whole full set 605.0 MB, against zlib's 606.0
 * and igzip 2's 609.2 (duplicity's: 607.6).
 */
const IGZIP_LEVEL = [0, 2, 3, 3];

/** A gzip member of `data`: stored blocks at level 0, else deflated at `level` (zlib's scale). */
export function gzipMember(data: Uint8Array, level: number): Buffer {
  if (level >= 1 && level <= 3) {
    const fast = igzip()?.gzipMember(data, IGZIP_LEVEL[level]!);
    if (fast) return fast;
  }
  // one output buffer big enough for stored data (5 bytes per 64 KiB block + gzip framing)
  return gzipSync(data, { level, memLevel: 9, chunkSize: data.length + 4096 });
}
