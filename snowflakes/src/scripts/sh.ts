/**
 * Template tag for shell text: raw (backslashes stay), and `\${` gives the shell's `${`, which
 * a template literal would otherwise take as an interpolation.
 */
export function sh(strings: TemplateStringsArray, ...values: unknown[]): string {
  return String.raw(strings, ...values).replaceAll('\\${', '${');
}

/** Quote a value for sh: single quotes, with embedded ones closed and escaped. */
export function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
