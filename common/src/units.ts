import { UsageError } from './errors.js';

// Decimal and binary units are both accepted: "200MB" = 200*10^6, "200MiB" = 200*2^20.
const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Parse "200MB", "1.5GiB", "4096" into bytes. */
export function parseSize(text: string | number, what = 'size'): number {
  if (typeof text === 'number') {
    if (Number.isSafeInteger(text) && text >= 0) return text;
    throw new UsageError(`${what}: ${text} is not a whole number of bytes`);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`${what}: "${text}" is not a size (examples: 200MB, 1GiB, 4096)`);
  return Math.round(Number(m[1]) * unit);
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 };

/** Parse "30d", "12h", "90m", "2w", "45s" into seconds. */
export function parseDuration(text: string | number, what = 'duration'): number {
  if (typeof text === 'number') {
    if (Number.isFinite(text) && text >= 0) return text;
    throw new UsageError(`${what}: ${text} is not a duration`);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$/.exec(text);
  if (!m) throw new UsageError(`${what}: "${text}" is not a duration (examples: 30d, 12h, 90m)`);
  return Number(m[1]) * DURATION_UNITS[m[2]!]!;
}

/** Human-readable bytes, binary units: 1536 -> "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/**
 * The last second duplicity's time string can hold (9999-12-31T23:59:59Z): a time read from a
 * name beyond it is no backup's, and formatTimestamp could not write it back.
 */
export const MAX_TIMESTAMP = 253402300799;

/** Duplicity's time string: UTC "YYYYMMDDTHHMMSSZ" for whole epoch seconds. */
export function formatTimestamp(epochSeconds: number): string {
  return new Date(epochSeconds * 1000)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** Inverse of formatTimestamp; undefined when the text is not exactly that form. */
export function parseTimestamp(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
  return formatTimestamp(t) === text ? t : undefined;
}
