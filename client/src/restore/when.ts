/**
 * The --time argument, as duplicity accepts it (formats §2.1, duplicity's dup_time.genstrtotime):
 * `now`, epoch seconds, an interval back from now (`3D`, `1h30m`, `2W`), a duplicity time
 * string (20260102T030405Z), `YYYY/MM/DD` or `MM/DD/YYYY`, or an ISO 8601 date or date and time
 * (`2026-11-23`, `2026-11-23T03:00[:00[.5]]`, with `Z` or `±HH:MM`). A date without a zone is
 * UTC (duplicity would use local time; the fleet runs on UTC). A field out of range (month 13,
 * February 30, hour 24: often a DD/MM date) is refused, not rolled over into another date.
 */
import { parseTimestamp } from '@deaddrop/common/units';
import { UsageError } from '@deaddrop/common/errors';

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, D: 86400, W: 7 * 86400, M: 30 * 86400, Y: 365 * 86400 };

interface Fields {
  year: number;
  month: number;
  day: number;
  hour?: number;
  minute?: number;
  second?: number;
  /** Minutes east of UTC. */
  offset?: number;
}

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** What is out of range in `f`, or undefined. */
function outOfRange(f: Fields): string | undefined {
  if (f.month < 1 || f.month > 12) return `month ${f.month} is not 1-12`;
  const days = daysIn(f.year, f.month);
  if (f.day < 1 || f.day > days)
    return `day ${f.day} is not in ${f.year}-${String(f.month).padStart(2, '0')} (1-${days})`;
  if ((f.hour ?? 0) > 23) return `hour ${f.hour} is not 0-23`;
  if ((f.minute ?? 0) > 59) return `minute ${f.minute} is not 0-59`;
  if ((f.second ?? 0) > 59) return `second ${f.second} is not 0-59`;
  if (Math.abs(f.offset ?? 0) >= 24 * 60) return 'the zone offset is not within ±23:59';
  return undefined;
}

/** Epoch seconds of checked fields; `text` names the argument in the error. */
function fromFields(text: string, f: Fields): number {
  const bad = outOfRange(f);
  if (bad) throw new UsageError(`--time "${text}": ${bad} (dates are YYYY/MM/DD, MM/DD/YYYY or YYYY-MM-DD)`);
  const t = Date.UTC(f.year, f.month - 1, f.day, f.hour ?? 0, f.minute ?? 0, f.second ?? 0) / 1000;
  return t - (f.offset ?? 0) * 60;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(Z|([+-])(\d{2}):?(\d{2}))?$/i;

export function parseRestoreTime(text: string, now = Date.now() / 1000): number {
  const t = text.trim();
  if (t === 'now') return Math.floor(now);
  if (/^\d+$/.test(t)) return Number(t);
  if (/^(\d+[smhDWMY])+$/.test(t)) {
    let back = 0;
    for (const m of t.matchAll(/(\d+)([smhDWMY])/g)) back += Number(m[1]) * UNIT[m[2]!]!;
    return Math.floor(now - back);
  }
  const dup = parseTimestamp(t);
  if (dup !== undefined) return dup;
  let m = /^(\d{4})\/(\d{1,2})\/(\d{1,2})$/.exec(t);
  if (m) return fromFields(text, { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) });
  m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(t);
  if (m) return fromFields(text, { year: Number(m[3]), month: Number(m[1]), day: Number(m[2]) });
  m = ISO.exec(t);
  if (m) {
    const [, year, month, day, hour, minute, second, , sign, oh, om] = m;
    const offset = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) : undefined;
    return fromFields(text, {
      year: Number(year),
      month: Number(month),
      day: Number(day),
      ...(hour !== undefined ? { hour: Number(hour), minute: Number(minute), second: Number(second ?? 0) } : {}),
      ...(offset !== undefined ? { offset } : {}),
    });
  }
  throw new UsageError(
    `--time "${text}": not a time (use an ISO date like 2026-11-23T03:00:00Z, 20261123T030000Z, epoch seconds, now, or 3D)`,
  );
}
