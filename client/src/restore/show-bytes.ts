/**
 * Names and link targets (any bytes) as text for list and verify, text and --json alike, so
 * that different byte strings always read differently: valid UTF-8 as it is, except a
 * backslash (`\\`) and control characters (C0 and C1); every other byte as `\xNN`.
 */
import type { PathIndex } from '../scan/path-index.js';

const hex = (byte: number) => `\\x${byte.toString(16).padStart(2, '0')}`;

/** A lead byte's sequence length and the range of the byte after it (0: not a lead byte). */
function leadByte(c: number): [number, number, number] {
  if (c >= 0xc2 && c <= 0xdf) return [2, 0x80, 0xbf];
  if (c === 0xe0) return [3, 0xa0, 0xbf]; // no overlongs
  if (c === 0xed) return [3, 0x80, 0x9f]; // no surrogates
  if (c >= 0xe1 && c <= 0xef) return [3, 0x80, 0xbf];
  if (c === 0xf0) return [4, 0x90, 0xbf];
  if (c >= 0xf1 && c <= 0xf3) return [4, 0x80, 0xbf];
  if (c === 0xf4) return [4, 0x80, 0x8f]; // up to U+10FFFF
  return [0, 0, 0];
}

/** Length of the valid UTF-8 sequence at `i` (RFC 3629: no overlongs, surrogates or > U+10FFFF), or 0. */
function utf8Length(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const [n, min, max] = leadByte(c);
  if (n === 0 || i + n > b.length) return 0;
  if (b[i + 1]! < min || b[i + 1]! > max) return 0;
  for (let k = 2; k < n; k++) if (b[i + k]! < 0x80 || b[i + k]! > 0xbf) return 0;
  return n;
}

export function showBytes(b: Buffer): string {
  let out = '';
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    if (c === 0x5c) out += '\\\\';
    else if (c < 0x20 || c === 0x7f) out += hex(c);
    else {
      const n = utf8Length(b, i);
      // C1 controls (U+0080-U+009F, C2 80-9F) act on terminals like C0 ones: escaped too
      if (n === 0 || (n === 2 && c === 0xc2 && b[i + 1]! <= 0x9f)) out += hex(c);
      else {
        out += b.toString('utf8', i, i + n);
        i += n;
        continue;
      }
    }
    i++;
  }
  return out;
}

/** A path index as showBytes shows its bytes; `.` for the root. */
export function showIndex(index: PathIndex): string {
  return index.length === 0 ? '.' : index.map(showBytes).join('/');
}

/**
 * The bytes of a name as showBytes shows it (for --path): `\\` is a backslash and `\xNN` the
 * byte NN; a backslash before anything else is taken as it is; the rest as UTF-8.
 */
export function bytesOfShown(text: string): Buffer {
  const out: Buffer[] = [];
  let plain = '';
  const flush = () => {
    if (plain) out.push(Buffer.from(plain, 'utf8'));
    plain = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && text[i + 1] === '\\') {
      plain += '\\';
      i++;
    } else if (c === '\\' && /^x[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 4))) {
      flush();
      out.push(Buffer.from([parseInt(text.slice(i + 2, i + 4), 16)]));
      i += 3;
    } else plain += c;
  }
  flush();
  return Buffer.concat(out);
}
