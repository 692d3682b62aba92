/**
 * A path inside a backup as duplicity sees it: an "index", the tuple of raw byte components
 * relative to the backup root (`[]` is the root). Names are bytes, never JS strings, so
 * non-UTF-8 names survive unchanged.
 */
export type PathIndex = Buffer[];

/**
 * Duplicity's entry order: tuples compared component by component, each as unsigned bytes,
 * a prefix first. Not the order of the joined strings: `a/b` < `a-b`.
 */
export function compareIndex(a: PathIndex, b: PathIndex): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = Buffer.compare(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** True when `prefix` is `index` itself or one of its ancestors. */
export function isPrefixIndex(prefix: PathIndex, index: PathIndex): boolean {
  if (prefix.length > index.length) return false;
  for (let i = 0; i < prefix.length; i++) if (!prefix[i]!.equals(index[i]!)) return false;
  return true;
}

const SLASH = Buffer.from('/');
const DOT = Buffer.from('.');

/** Components joined with `/` (the root is the empty buffer). */
export function joinIndex(index: PathIndex): Buffer {
  if (index.length === 1) return index[0]!;
  const parts: Buffer[] = [];
  index.forEach((c, i) => {
    if (i > 0) parts.push(SLASH);
    parts.push(c);
  });
  return Buffer.concat(parts);
}

/** The manifest form: components joined with `/`, the root written as `.`. */
export function indexToBytes(index: PathIndex): Buffer {
  return index.length === 0 ? DOT : joinIndex(index);
}

/** Inverse of indexToBytes: `.` (or empty) is the root. */
export function bytesToIndex(bytes: Uint8Array): PathIndex {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length === 0 || b.equals(DOT)) return [];
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= b.length; i++) {
    if (i === b.length || b[i] === 0x2f) {
      out.push(Buffer.from(b.subarray(start, i)));
      start = i + 1;
    }
  }
  return out;
}

/** For log lines and JSON: the joined path as text (invalid UTF-8 shown as U+FFFD). */
export function indexToDisplay(index: PathIndex): string {
  return index.length === 0 ? '.' : joinIndex(index).toString('utf8');
}
