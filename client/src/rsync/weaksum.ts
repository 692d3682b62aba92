/** Weak (rolling) sums of librsync: rollsum (rollsum.h) and RabinKarp (rabinkarp.h). */

export const ROLLSUM_OFFSET = 31;
export const RK_MULT = 0x08104225;
/** (RK_MULT - 1) * seed(1): what a byte leaving the window also takes out. */
export const RK_ADJUST = 0x08104224;

/** rollsum digest of buf[start, end): s2 << 16 | s1, both mod 2^16. */
export function rollsumOf(buf: Uint8Array, start: number, end: number): number {
  let s1 = 0;
  let s2 = 0;
  for (let i = start; i < end; i++) {
    s1 = (s1 + buf[i]! + ROLLSUM_OFFSET) | 0;
    s2 = (s2 + s1) | 0;
  }
  return (((s2 & 0xffff) << 16) | (s1 & 0xffff)) >>> 0;
}

/** RabinKarp digest of buf[start, end): h = 1, h = h*M + b. */
export function rabinKarpOf(buf: Uint8Array, start: number, end: number): number {
  let h = 1;
  for (let i = start; i < end; i++) h = (Math.imul(h, RK_MULT) + buf[i]!) | 0;
  return h >>> 0;
}

/** M^n mod 2^32, the weight of the byte leaving an n-byte window. */
export function rabinKarpPower(n: number): number {
  let p = 1;
  for (let i = 0; i < n; i++) p = Math.imul(p, RK_MULT);
  return p | 0;
}
