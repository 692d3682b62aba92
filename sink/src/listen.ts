import { UsageError } from '@deaddrop/common/errors';

/** "127.0.0.1:8084", "[::1]:8084", "[::]:0", ":8084" (all addresses) → host and port. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen ${text}: expected ADDR:PORT or [IPv6]:PORT`);
  return { host: m[1] ?? (m[2] || '::'), port };
}

/** host:port as printed and as URLs need it (IPv6 in brackets). */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
