/**
 * The --time argument, as duplicity accepts it (formats §2.1, duplicity's dup_time.genstrtotime):
 * `now`, epoch seconds, an interval back from now (`3D`, `1h30m`, `2W`), a duplicity time
 * string (20260102T030405Z), `YYYY/MM/DD` or `MM/DD/YYYY`, or any ISO 8601 date/time.
 * A date without a zone is UTC (duplicity would use local time; the fleet runs on UTC).
 */
import { parseTimestamp } from '@deaddrop/common/units';
import { UsageError } from '@deaddrop/common/errors';

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, D: 86400, W: 7 * 86400, M: 30 * 86400, Y: 365 * 86400 };

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
  if (m) return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000;
  m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(t);
  if (m) return Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2])) / 1000;
  // a date and time without zone: read as UTC, not local time
  const iso = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(t) ? `${t.replace(' ', 'T')}Z` : t;
  const ms = /^\d{4}-\d{2}-\d{2}/.test(iso) ? Date.parse(iso) : NaN;
  if (Number.isFinite(ms)) return Math.floor(ms / 1000);
  throw new UsageError(
    `--time "${text}": not a time (use an ISO date like 2026-11-23T03:00:00Z, 20261123T030000Z, epoch seconds, now, or 3D)`,
  );
}
