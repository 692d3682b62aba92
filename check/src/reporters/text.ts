/** The human report: a summary line, one line per host, an indented line per problem. */
import { formatBytes, formatTimestamp } from '@deaddrop/common/units';
import type { CheckReport, HostReport } from '../report.js';

const MARK = { ok: 'OK  ', warning: 'WARN', problem: 'FAIL' } as const;

/**
 * A name or message from the sink tree made safe for one line: control characters (a host
 * directory may be named with a newline) shown as `\uNNNN`, so no header or line can be injected.
 */
export function oneLine(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

function hostLine(h: HostReport): string {
  const parts = [MARK[h.status], oneLine(h.host).padEnd(24), h.kind.padEnd(8)];
  if (h.kind === 'linux') {
    parts.push(h.fullAgeDays === null ? 'full -' : `full ${h.fullAgeDays}d`);
    parts.push(h.incrementalAgeDays === null ? 'inc -' : `inc ${h.incrementalAgeDays}d`);
    parts.push(`chain ${h.chainLength}`, `sets ${h.completeSets}/${h.sets}`);
  } else for (const s of h.snowflakes) parts.push(`${s.kind} ${s.ageDays}d ${formatBytes(s.bytes)}`);
  parts.push(formatBytes(h.bytes));
  if (h.problems.length) parts.push(`${h.problems.length} problem${h.problems.length > 1 ? 's' : ''}`);
  return parts.join('  ');
}

export function formatText(r: CheckReport): string {
  const s = r.summary;
  const lines = [
    `deaddrop check ${oneLine(r.root)} (${r.mode}) at ${formatTimestamp(r.checkedAt)}: ${s.hosts} hosts, ${s.ok} ok, ` +
      `${s.warning} with warnings, ${s.problem} with problems`,
  ];
  for (const h of r.hosts) {
    lines.push(hostLine(h));
    for (const p of h.problems)
      lines.push(`      ${p.severity === 'error' ? '!' : '?'} ${p.code}: ${oneLine(p.message)}`);
  }
  return lines.join('\n') + '\n';
}

/** One line for a mail subject or a chat message's first line. */
export function formatHeadline(r: CheckReport): string {
  if (r.ok) return `deaddrop check: all ${r.summary.hosts} hosts ok`;
  const bad = r.hosts.filter((h) => h.status !== 'ok').map((h) => oneLine(h.host));
  return `deaddrop check: ${r.summary.errors} problems, ${r.summary.warnings} warnings on ${bad.join(', ')}`;
}
