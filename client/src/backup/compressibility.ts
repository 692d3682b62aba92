/**
 * Is a piece of data worth deflating? Shannon entropy of a byte sample: random, compressed or
 * encrypted data is close to 8 bits per byte and is stored instead (stored deflate blocks are
 * valid gzip, and cost no CPU). A 4 KiB sample costs microseconds per 64 KiB chunk.
 */
const SAMPLE = 4096;
/** Bits per byte above which deflate gains too little (a 4 KiB random sample measures ~7.95). */
const THRESHOLD = 7.6;
const counts = new Uint32Array(256);
const LOG2 = new Float64Array(SAMPLE + 1).map((_, i) => (i === 0 ? 0 : Math.log2(i)));

export function looksCompressible(data: Uint8Array, start = 0, end = data.length): boolean {
  const n = end - start;
  if (n < 1024) return true; // small pieces ride along with their neighbours
  const from = start + Math.max(0, Math.floor((n - SAMPLE) / 2));
  const to = Math.min(end, from + SAMPLE);
  counts.fill(0);
  for (let i = from; i < to; i++) counts[data[i]!]!++;
  const m = to - from;
  let h = 0;
  for (let i = 0; i < 256; i++) {
    const c = counts[i]!;
    if (c) h -= c * (LOG2[c]! - LOG2[m]!);
  }
  return h / m < THRESHOLD;
}
