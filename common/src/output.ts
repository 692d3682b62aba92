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

/** Text for stdout, written in pieces of about 64 KiB; `write` waits while stdout is full. */
export interface StdoutPieces {
  write(text: string): Promise<void>;
  end(): Promise<void>;
}

const PIECE = 64 * 1024;

export function stdoutPieces(out: NodeJS.WritableStream = process.stdout): StdoutPieces {
  let pending = '';
  const flush = async () => {
    const text = pending;
    pending = '';
    if (text && !out.write(text)) await new Promise((resolve) => out.once('drain', resolve));
  };
  return {
    async write(text) {
      pending += text;
      if (pending.length >= PIECE) await flush();
    },
    end: flush,
  };
}

/**
 * A long listing's JSON as its items come: once `end` is called, the same bytes printJson
 * writes for `{ ...head, [field]: items }`, without holding the items or the whole text.
 */
export function jsonListing<T>(head: Record<string, unknown>, field: string, out = stdoutPieces()) {
  const opening = JSON.stringify(head, null, 2);
  let prefix: string | undefined =
    (opening === '{}' ? '{\n' : `${opening.slice(0, -2)},\n`) + `  ${JSON.stringify(field)}: [`;
  const once = () => {
    const p = prefix ?? '';
    prefix = undefined;
    return p;
  };
  let count = 0;
  return {
    async add(item: T): Promise<void> {
      const text = JSON.stringify(item, null, 2).replace(/\n/g, '\n    ');
      await out.write(`${once()}${count++ ? ',' : ''}\n    ${text}`);
    },
    async end(): Promise<void> {
      await out.write(`${once()}${count ? '\n  ]' : ']'}\n}\n`);
      await out.end();
    },
  };
}
