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
