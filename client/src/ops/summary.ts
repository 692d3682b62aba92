/**
 * One line about a finished run for the ping body (healthchecks shows it in the check's log).
 * Error text can quote a URL; any user:password@ in it is cut out.
 */
import { describeError } from '@deaddrop/common/errors';
import { runKind, statOf, type RunOutcome } from './outcome.js';

export function redactUrls(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1***@');
}

export function runSummary(host: string, o: RunOutcome): string {
  const kind = runKind(o);
  if (o.kind === 'thrown') return `deaddrop backup on ${host}: ${kind}: ${redactUrls(describeError(o.error))}\n`;
  const r = o.run;
  const sinks = Object.entries(r.delivery ?? {})
    .map(([name, d]) => `${name} ${d.ok ? 'ok' : 'missed'}`)
    .join(', ');
  return (
    `deaddrop backup on ${host}: ${kind} (exit ${r.exitCode})${r.set ? `, set ${r.set}` : ''}, ` +
    `${statOf(r, 'bytesRead')} bytes read, ${r.storedBytes} stored, ${r.problems.length} problem(s)` +
    `${sinks ? `; sinks: ${sinks}` : ''}, ${r.seconds.toFixed(1)} s\n`
  );
}
