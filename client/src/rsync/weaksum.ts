/** Weak (rolling) sums of librsync: rollsum (rollsum.h) and RabinKarp (rabinkarp.h). */

export const ROLLSUM_OFFSET = 31;
export const RK_MULT = 0x08104225;
/** (RK_MULT - 1) * seed(1): what a byte leaving the window also takes out. */
export const RK_ADJUST = 0x08104224;

const RK_M2 = Math.imul(RK_MULT, RK_MULT);
const RK_M3 = Math.imul(RK_M2, RK_MULT);
const RK_M4 = Math.imul(RK_M3, RK_MULT);

/**
 * rollsum digest of buf[start, end): s2 << 16 | s1, both mod 2^16. Sums raw bytes four at a time
 * and adds the +31 offsets at the end (n*31 to s1, 31*n(n+1)/2 to s2): ~2x the byte loop.
 */
export function rollsumOf(buf: Uint8Array, start: number, end: number): number {
  let s1 = 0;
  let s2 = 0;
  let i = start;
  for (const stop = end - 3; i < stop; i += 4) {
    const b0 = buf[i]!;
    const b1 = buf[i + 1]!;
    const b2 = buf[i + 2]!;
    const b3 = buf[i + 3]!;
    s2 = (s2 + 4 * s1 + 4 * b0 + 3 * b1 + 2 * b2 + b3) | 0;
    s1 = (s1 + b0 + b1 + b2 + b3) | 0;
  }
  for (; i < end; i++) {
    s1 = (s1 + buf[i]!) | 0;
    s2 = (s2 + s1) | 0;
  }
  const n = end - start;
  const m = n % 131072; // n(n+1)/2 mod 2^16 depends only on n mod 2^17
  s1 = (s1 + ROLLSUM_OFFSET * n) | 0;
  s2 = (s2 + ROLLSUM_OFFSET * (((m * (m + 1)) / 2) % 65536)) | 0;
  return (((s2 & 0xffff) << 16) | (s1 & 0xffff)) >>> 0;
}

/** RabinKarp digest of buf[start, end): h = 1, h = h*M + b (four bytes per step). */
export function rabinKarpOf(buf: Uint8Array, start: number, end: number): number {
  let h = 1;
  let i = start;
  for (const stop = end - 3; i < stop; i += 4) {
    h =
      (Math.imul(h, RK_M4) +
        Math.imul(buf[i]!, RK_M3) +
        Math.imul(buf[i + 1]!, RK_M2) +
        Math.imul(buf[i + 2]!, RK_MULT) +
        buf[i + 3]!) |
      0;
  }
  for (; i < end; i++) h = (Math.imul(h, RK_MULT) + buf[i]!) | 0;
  return h >>> 0;
}

/** M^n mod 2^32, the weight of the byte leaving an n-byte window. */
export function rabinKarpPower(n: number): number {
  let p = 1;
  for (let i = 0; i < n; i++) p = Math.imul(p, RK_MULT);
  return p | 0;
}
