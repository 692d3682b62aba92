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
 * A gzip member of `data`: stored blocks at level 0 (by the addon where built: zlib's bytes, one
 * copy and ISA-L's CRC-32, no deflate state; 200 MiB in 19-26 ms against zlib's 132-167 ms),
 * else deflated at `level`, igzip's at 1-3.
 * A full set's level 2 was igzip's 3 until the full backup of the bench's 1 GiB set took 5.3-5.6
 * s of wall and 8.5-8.7 s of user CPU there against 4.7-5.0 s and 7.1-7.5 s at igzip's 2, for
 * 0.7% more bytes stored (608.7 MB against 604.5; duplicity's 607.6): its logs in 1 MiB members
 * deflate to 102.5 MB in 0.73 s at igzip's 2, to 99.1 MB in 1.79 s at its 3.
 */
export function gzipMember(data: Uint8Array, level: number): Buffer {
  if (level === 0) {
    const stored = igzip()?.storedMember?.(data);
    if (stored) return stored;
  } else if (level >= 1 && level <= 3) {
    const fast = igzip()?.gzipMember(data, level);
    if (fast) return fast;
  }
  // one output buffer big enough for stored data (5 bytes per 64 KiB block + gzip framing)
  return gzipSync(data, { level, memLevel: 9, chunkSize: data.length + 4096 });
}
