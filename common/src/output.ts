import { describeError, ExitCode, exitCodeOf } from './errors.js';

/** Machine output: one JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Print `value` as JSON when asked, else the text lines `text` makes of it. */
export function printResult<T>(json: boolean | undefined, value: T, text: (v: T) => string | string[]): void {
  if (json) return printJson(value);
  const out = text(value);
  const lines = Array.isArray(out) ? out : [out];
  if (lines.length) process.stdout.write(lines.join('\n') + '\n');
}

/**
 * With --json, a command that fails says so on stdout too: one line, so that it is also the
 * last of backup's JSON lines. The human message goes to stderr as without --json.
 */
export function printFailureJson(err: unknown): void {
  const exitCode = exitCodeOf(err);
  const result = exitCode === ExitCode.LOCKED ? 'locked' : 'failed';
  process.stdout.write(JSON.stringify({ result, exitCode, error: describeError(err) }) + '\n');
}
