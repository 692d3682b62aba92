/**
 * The tar header codec for duplicity archives (formats §5.1): POSIX.1-2001 pax as Python 3.11's
 * tarfile writes it. Names are raw bytes: a name that is not ASCII or does not fit goes into a
 * pax `path` record (with `hdrcharset=BINARY` when it is not UTF-8), the ustar field keeps a
 * `?`-replaced placeholder. Reading also takes GNU long names (`L`/`K`) and the ustar prefix,
 * which older duplicity builds wrote. Hard links, sparse and contiguous types are never written.
 */
import { isUtf8 } from 'node:buffer';
import { DeaddropError } from '@deaddrop/common/errors';
import type { EntryType } from '../scan/entry.js';

export const BLOCK = 512;

/** Tar type flags used by duplicity archives. */
export const TarType = {
  FILE: '0',
  SYMLINK: '2',
  CHARDEV: '3',
  BLOCKDEV: '4',
  DIR: '5',
  FIFO: '6',
} as const;
export type TarTypeFlag = (typeof TarType)[keyof typeof TarType];

/** The object type a type flag stands for (signature archives and volumes alike). */
export const ENTRY_TYPE_OF_FLAG: Record<string, EntryType> = {
  [TarType.FILE]: 'file',
  [TarType.DIR]: 'dir',
  [TarType.SYMLINK]: 'symlink',
  [TarType.FIFO]: 'fifo',
  [TarType.CHARDEV]: 'chardev',
  [TarType.BLOCKDEV]: 'blockdev',
};

export interface TarHeader {
  /** Full entry name as bytes (directories end with `/`). */
  name: Buffer;
  type: TarTypeFlag;
  /** Permission bits incl. setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds. */
  mtime: number;
  linkname?: Buffer;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
}

const MAX_OCTAL_8 = 8 ** 7; // 7 octal digits + NUL
const MAX_OCTAL_12 = 8 ** 11;

function octal(value: number, width: number): Buffer {
  return Buffer.from(value.toString(8).padStart(width - 1, '0') + '\0', 'latin1');
}

/** The ustar text field: ASCII only, truncated, NUL-padded; other characters become `?`. */
function asciiField(bytes: Buffer, width: number): Buffer {
  const text = bytes.toString('utf8').replace(/[^\x00-\x7f]/g, '?'); // eslint-disable-line no-control-regex
  const out = Buffer.alloc(width);
  out.write(text.slice(0, width), 'latin1');
  return out;
}

function isAscii(b: Buffer): boolean {
  for (const c of b) if (c > 0x7f) return false;
  return true;
}

/** One pax record `LEN key=value\n`, LEN counting its own digits. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = 3 + Buffer.byteLength(key) + value.length; // ' ', '=', '\n'
  let len = body;
  while (len !== body + String(len).length) len = body + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

/** The header's checksum as tar computes it (bytes unsigned) and as old tars did (signed). */
function headerSums(block: Buffer): { unsigned: number; signed: number } {
  let sum = 8 * 0x20; // the checksum field counts as spaces
  let high = 0; // bytes >= 0x80: each is 256 less when signed
  for (let i = 0; i < BLOCK; i++) {
    if (i === 148) i = 156;
    const c = block[i]!;
    sum += c;
    high += c >> 7;
  }
  return { unsigned: sum, signed: sum - 256 * high };
}

interface UstarFields {
  name: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: string;
  linkname: Buffer;
  uname: Buffer;
  gname: Buffer;
  device?: { major: number; minor: number };
}

function ustarBlock(f: UstarFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  asciiField(f.name, 100).copy(b, 0);
  octal(f.mode & 0o7777, 8).copy(b, 100);
  octal(f.uid, 8).copy(b, 108);
  octal(f.gid, 8).copy(b, 116);
  octal(f.size, 12).copy(b, 124);
  octal(f.mtime, 12).copy(b, 136);
  b.write(f.type, 156, 'latin1');
  asciiField(f.linkname, 100).copy(b, 157);
  b.write('ustar\x0000', 257, 'latin1');
  asciiField(f.uname, 32).copy(b, 265);
  asciiField(f.gname, 32).copy(b, 297);
  if (f.device) {
    octal(f.device.major, 8).copy(b, 329);
    octal(f.device.minor, 8).copy(b, 337);
  }
  b.write(headerSums(b).unsigned.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return b;
}

function padTo512(b: Buffer): Buffer {
  const rest = b.length % BLOCK;
  return rest === 0 ? b : Buffer.concat([b, Buffer.alloc(BLOCK - rest)]);
}

/**
 * The header block(s) of one entry: a pax extended header when needed (record order as
 * tarfile: path, linkpath, uname, gname, uid, gid, size, mtime), then the ustar block.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const linkname = h.linkname ?? Buffer.alloc(0);
  const uname = Buffer.from(h.uname ?? '');
  const gname = Buffer.from(h.gname ?? '');
  const mtime = Math.max(0, Math.floor(h.mtime)); // duplicity clamps negative times to 0
  const pax: [string, Buffer][] = [];
  for (const [key, value, width] of [
    ['path', h.name, 100],
    ['linkpath', linkname, 100],
    ['uname', uname, 32],
    ['gname', gname, 32],
  ] as const)
    if (!isAscii(value) || value.length > width) pax.push([key, value]);
  const fields: UstarFields = {
    name: h.name,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    size: h.size,
    mtime,
    type: h.type,
    linkname,
    uname,
    gname,
  };
  for (const [key, limit] of [
    ['uid', MAX_OCTAL_8],
    ['gid', MAX_OCTAL_8],
    ['size', MAX_OCTAL_12],
    ['mtime', MAX_OCTAL_12],
  ] as const) {
    if (fields[key] >= 0 && fields[key] < limit) continue;
    pax.push([key, Buffer.from(String(fields[key]))]);
    fields[key] = 0;
  }
  if (h.type === TarType.CHARDEV || h.type === TarType.BLOCKDEV)
    fields.device = { major: h.devmajor ?? 0, minor: h.devminor ?? 0 };
  const main = ustarBlock(fields);
  if (pax.length === 0) return main;
  const binary = pax.some(([, v]) => !isUtf8(v));
  const records = Buffer.concat([
    ...(binary ? [Buffer.from('21 hdrcharset=BINARY\n')] : []),
    ...pax.map(([k, v]) => paxRecord(k, v)),
  ]);
  const paxHeader = ustarBlock({
    name: Buffer.from('././@PaxHeader'),
    mode: 0,
    uid: 0,
    gid: 0,
    size: records.length,
    mtime: 0,
    type: 'x',
    linkname: Buffer.alloc(0),
    uname: Buffer.alloc(0),
    gname: Buffer.alloc(0),
  });
  return Buffer.concat([paxHeader, padTo512(records), main]);
}

/** Zero bytes that pad `size` bytes of entry data to a whole block. */
export function dataPadding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? EMPTY : Buffer.alloc(BLOCK - rest);
}
const EMPTY = Buffer.alloc(0);

// ---- reading ----

/** One raw 512-byte header, before pax/GNU extensions are applied. */
export interface RawHeader {
  name: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: string;
  linkname: Buffer;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

/** A NUL-terminated text field as UTF-8 (user and group names). */
function cText(b: Buffer, start: number, end: number): string {
  const nul = b.indexOf(0, start);
  return b.toString('utf8', start, nul < 0 || nul > end ? end : nul);
}

function cString(b: Buffer): Buffer {
  const nul = b.indexOf(0);
  return Buffer.from(nul < 0 ? b : b.subarray(0, nul));
}

/**
 * Octal (spaces before, NUL or spaces after) or GNU base-256 numbers. Read byte by byte: every
 * header of a volume or signature archive has eight of them (restore and each incremental read
 * tens of thousands of headers).
 */
function number(b: Buffer, start: number, end: number, what: string): number {
  if (b[start]! & 0x80) {
    // GNU base-256: the bits after the flag bit are a two's complement number (GNU tar and
    // Python's tarfile write negative values so, 0xff first); BigInt, as 12 bytes pass 2^53
    let n = BigInt(b[start]! & 0x7f);
    for (let i = start + 1; i < end; i++) n = (n << 8n) | BigInt(b[i]!);
    const bits = BigInt(7 + 8 * (end - start - 1));
    return Number(b[start]! & 0x40 ? n - (1n << bits) : n);
  }
  let i = start;
  while (i < end && b[i] === 0x20) i++;
  let n = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x37) break;
    n = n * 8 + (c - 0x30);
  }
  for (; i < end; i++)
    if (b[i] !== 0 && b[i] !== 0x20) {
      const text = b.toString('latin1', start, end).replace(/[\0 ]+$/g, '');
      throw new DeaddropError(`tar: bad ${what} field "${text.trim()}"`);
    }
  return n;
}

/** True for an all-zero block (the end of an archive). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Does `block` hold the ASCII text `ascii` at `at`? */
function hasAt(block: Buffer, at: number, ascii: string): boolean {
  for (let i = 0; i < ascii.length; i++) if (block[at + i] !== ascii.charCodeAt(i)) return false;
  return true;
}

/** Decode one header block; checks the checksum (unsigned or signed, as tar readers accept). */
export function decodeRawHeader(block: Buffer): RawHeader {
  const stored = number(block, 148, 156, 'checksum');
  const sums = headerSums(block);
  if (stored !== sums.unsigned && stored !== sums.signed) throw new DeaddropError('tar: header checksum mismatch');
  const ustar = hasAt(block, 257, 'ustar');
  let name = cString(block.subarray(0, 100));
  const prefix = ustar && block[345] !== 0 ? cString(block.subarray(345, 500)) : EMPTY;
  // GNU tar keeps atime/ctime where ustar has the prefix ("ustar  \0" magic): no prefix there
  if (prefix.length > 0 && hasAt(block, 257, 'ustar\x0000')) name = Buffer.concat([prefix, Buffer.from('/'), name]);
  return {
    name,
    mode: number(block, 100, 108, 'mode'),
    uid: number(block, 108, 116, 'uid'),
    gid: number(block, 116, 124, 'gid'),
    size: number(block, 124, 136, 'size'),
    mtime: number(block, 136, 148, 'mtime'),
    type: String.fromCharCode(block[156]!) === '\0' ? '0' : String.fromCharCode(block[156]!),
    linkname: cString(block.subarray(157, 257)),
    uname: cText(block, 265, 297),
    gname: cText(block, 297, 329),
    devmajor: ustar ? number(block, 329, 337, 'devmajor') : 0,
    devminor: ustar ? number(block, 337, 345, 'devminor') : 0,
  };
}

/** Parse pax records into key → raw value bytes. */
export function parsePaxRecords(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // padding
    const space = data.indexOf(0x20, at);
    const len = space < 0 ? NaN : Number(data.subarray(at, space).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0 || at + len > data.length || data[at + len - 1] !== 0x0a)
      throw new DeaddropError('tar: malformed pax record');
    const record = data.subarray(space + 1, at + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw new DeaddropError('tar: malformed pax record');
    out.set(record.subarray(0, eq).toString('utf8'), Buffer.from(record.subarray(eq + 1)));
    at += len;
  }
  return out;
}

/** Apply pax records (and GNU long names) to a raw header: the extension values win. */
export function applyExtensions(
  raw: RawHeader,
  pax: Map<string, Buffer> | undefined,
  gnuName?: Buffer,
  gnuLink?: Buffer,
): RawHeader {
  const h = { ...raw };
  if (gnuName) h.name = gnuName;
  if (gnuLink) h.linkname = gnuLink;
  if (!pax) return h;
  const num = (key: string): number | undefined => {
    const v = pax.get(key);
    if (v === undefined) return undefined;
    const n = Number(v.toString('latin1'));
    if (!Number.isFinite(n)) throw new DeaddropError(`tar: bad pax ${key} "${v.toString('latin1')}"`);
    return Math.floor(n);
  };
  const path = pax.get('path');
  if (path) h.name = path;
  const link = pax.get('linkpath');
  if (link) h.linkname = link;
  const uname = pax.get('uname');
  if (uname) h.uname = uname.toString('utf8');
  const gname = pax.get('gname');
  if (gname) h.gname = gname.toString('utf8');
  h.uid = num('uid') ?? h.uid;
  h.gid = num('gid') ?? h.gid;
  h.size = num('size') ?? h.size;
  h.mtime = num('mtime') ?? h.mtime;
  return h;
}
