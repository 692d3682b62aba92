/**
 * Duplicity's manifest quoting (manifest.py Quote/Unquote): a byte string holding any
 * whitespace byte, backslash, double or single quote has each such byte written as `\xNN`
 * (lowercase hex) and is wrapped in double quotes; anything else, including non-UTF-8 bytes,
 * is written raw.
 */
import { DeaddropError } from '@deaddrop/common/errors';

/** Bytes that force quoting: Python's bytes `\s` ( \t\n\r\f\v) plus \ " '. */
function needsEscape(byte: number): boolean {
  return (
    byte === 0x20 ||
    (byte >= 0x09 && byte <= 0x0d) ||
    byte === 0x5c || // backslash
    byte === 0x22 || // "
    byte === 0x27 // '
  );
}

export function quote(raw: Uint8Array): Buffer {
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (!bytes.some(needsEscape)) return Buffer.from(bytes);
  const parts: Buffer[] = [Buffer.from('"')];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (!needsEscape(bytes[i]!)) continue;
    parts.push(bytes.subarray(start, i), Buffer.from(`\\x${bytes[i]!.toString(16).padStart(2, '0')}`));
    start = i + 1;
  }
  parts.push(bytes.subarray(start), Buffer.from('"'));
  return Buffer.concat(parts);
}

/** Inverse of quote; a string not starting with `"` is returned as is. Accepts upper-case hex. */
export function unquote(quoted: Uint8Array, what = 'manifest'): Buffer {
  const q = Buffer.from(quoted.buffer, quoted.byteOffset, quoted.byteLength);
  if (q[0] !== 0x22) return Buffer.from(q);
  if (q.length < 2 || q[q.length - 1] !== 0x22)
    throw new DeaddropError(`${what}: unterminated quoted path ${JSON.stringify(q.toString('latin1'))}`);
  const out = Buffer.allocUnsafe(q.length);
  let n = 0;
  for (let i = 1; i < q.length - 1;) {
    if (q[i] === 0x5c) {
      const hex = q.subarray(i + 2, i + 4).toString('latin1');
      if (q[i + 1] !== 0x78 || !/^[0-9a-fA-F]{2}$/.test(hex))
        throw new DeaddropError(`${what}: bad escape in quoted path ${JSON.stringify(q.toString('latin1'))}`);
      out[n++] = parseInt(hex, 16);
      i += 4;
    } else out[n++] = q[i++]!;
  }
  return Buffer.from(out.subarray(0, n));
}
