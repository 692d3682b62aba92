import { ByteReader } from './byte-reader.js';

/** The identifier and length of one BER element, read from a stream. */
export interface BerHeader {
  /** 0 universal, 1 application, 2 context-specific, 3 private. */
  tagClass: number;
  constructed: boolean;
  tagNumber: number;
  /** Contents length; null for the indefinite form (closed by end-of-contents). */
  length: number | null;
  /** The identifier and length octets as read. */
  raw: Buffer;
  /** Stream position of the first contents octet. */
  contentStart: number;
}

export class BerFormatError extends Error {}

/**
 * How deep constructed elements may nest. CMS from openssl and gpgsm nests about ten deep; a
 * crafted file nesting millions deep would cost memory per level (recursion, generators).
 */
const MAX_DEPTH = 32;
/** Tag number octets after the first: 4 carry 28 bits, far beyond any tag in use. */
const MAX_TAG_OCTETS = 4;

function checkDepth(depth: number, what: string, at: number): void {
  if (depth > MAX_DEPTH) throw new BerFormatError(`${what}: elements nested more than ${MAX_DEPTH} deep at byte ${at}`);
}

export function isEndOfContents(h: BerHeader): boolean {
  return h.tagClass === 0 && h.tagNumber === 0 && !h.constructed && h.length === 0;
}

/** Read identifier and length octets (X.690 8.1.2, 8.1.3). */
export async function readHeader(r: ByteReader, what: string): Promise<BerHeader> {
  const start = r.position;
  const parts: Buffer[] = [await r.read(1, what)];
  const id = parts[0]![0]!;
  let tagNumber = id & 0x1f;
  if (tagNumber === 0x1f) {
    tagNumber = 0;
    for (let n = 1; ; n++) {
      const b = (await r.read(1, what))[0]!;
      parts.push(Buffer.from([b]));
      // X.690 8.1.2.4.2: the first subsequent octet may not be 0x80 (a padded tag number)
      if ((n === 1 && b === 0x80) || n > MAX_TAG_OCTETS)
        throw new BerFormatError(`${what}: malformed or too large tag number at byte ${start}`);
      tagNumber = tagNumber * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
  }
  const first = (await r.read(1, what))[0]!;
  parts.push(Buffer.from([first]));
  let length: number | null;
  if (first < 0x80) length = first;
  else if (first === 0x80) length = null;
  else {
    const n = first & 0x7f;
    if (n > 6) throw new BerFormatError(`${what}: length of ${n} octets at byte ${start} is not supported`);
    const bytes = await r.read(n, what);
    parts.push(bytes);
    length = bytes.reduce((acc, b) => acc * 256 + b, 0);
  }
  const constructed = (id & 0x20) !== 0;
  if (length === null && !constructed)
    throw new BerFormatError(`${what}: primitive element with indefinite length at byte ${start}`);
  return { tagClass: id >> 6, constructed, tagNumber, length, raw: Buffer.concat(parts), contentStart: r.position };
}

/** Read a whole (small) element whose header was already read, returning its full encoding. */
export async function readElement(r: ByteReader, h: BerHeader, what: string, maxBytes = 1 << 20): Promise<Buffer> {
  const parts: Buffer[] = [h.raw];
  let total = h.raw.length;
  const tooLarge = () => new BerFormatError(`${what}: larger than ${maxBytes} bytes`);
  const collect = async (header: BerHeader, depth: number): Promise<void> => {
    if (header.length !== null) {
      if (total + header.length > maxBytes) throw tooLarge();
      parts.push(await r.read(header.length, what));
      total += header.length;
      return;
    }
    checkDepth(depth, what, header.contentStart);
    for (;;) {
      const inner = await readHeader(r, what);
      parts.push(inner.raw);
      total += inner.raw.length;
      if (total > maxBytes) throw tooLarge();
      if (isEndOfContents(inner)) return;
      await collect(inner, depth + 1);
    }
  };
  await collect(h, 0);
  return Buffer.concat(parts);
}

/** Skip the contents of an element whose header was already read. */
export async function skipContents(r: ByteReader, h: BerHeader, what: string, depth = 0): Promise<void> {
  if (h.length !== null) return r.skip(h.length, what);
  checkDepth(depth, what, h.contentStart);
  for (;;) {
    const inner = await readHeader(r, what);
    if (isEndOfContents(inner)) return;
    await skipContents(r, inner, what, depth + 1);
  }
}

/**
 * Finish a constructed element: for the indefinite form skip any remaining children up to the
 * end-of-contents octets; for the definite form skip to its end. Truncation is an error.
 */
export async function closeElement(r: ByteReader, h: BerHeader, what: string): Promise<void> {
  if (h.length === null) return skipContents(r, h, what);
  const end = h.contentStart + h.length;
  if (r.position > end) throw new BerFormatError(`${what}: contents overrun its length at byte ${r.position}`);
  await r.skip(end - r.position, what);
}

/**
 * The contents of an OCTET STRING-like element, streamed: primitive (one piece) or constructed
 * of nested OCTET STRING segments, definite or indefinite.
 */
export async function* octetStringContents(
  r: ByteReader,
  h: BerHeader,
  what: string,
  depth = 0,
): AsyncGenerator<Buffer> {
  if (!h.constructed) {
    let left = h.length!;
    while (left > 0) {
      const piece = await r.readSome(Math.min(left, 1 << 20), what);
      left -= piece.length;
      yield piece;
    }
    return;
  }
  checkDepth(depth, what, h.contentStart);
  const end = h.length === null ? null : h.contentStart + h.length;
  for (;;) {
    if (end !== null && r.position >= end) {
      if (r.position > end) throw new BerFormatError(`${what}: segments overrun the length at byte ${r.position}`);
      return;
    }
    const inner = await readHeader(r, what);
    if (isEndOfContents(inner)) {
      if (end !== null)
        throw new BerFormatError(`${what}: end-of-contents inside a definite length at byte ${r.position}`);
      return;
    }
    if (inner.tagClass !== 0 || inner.tagNumber !== 4)
      throw new BerFormatError(
        `${what}: segment is not an OCTET STRING at byte ${inner.contentStart - inner.raw.length}`,
      );
    yield* octetStringContents(r, inner, what, depth + 1);
  }
}
