import { closeSync, openSync, writeSync } from 'node:fs';

/** One finished request, as the access log records it (never credentials or bodies). */
export interface AccessEntry {
  remote: string;
  user: string | undefined;
  method: string;
  path: string;
  status: number;
  bytesIn: number;
  /** Body bytes sent, for a GET (readers only). */
  bytesOut?: number;
  ms: number;
  note?: string;
}

/** `TIME REMOTE USER "METHOD PATH" STATUS BYTES_IN MSms [out=BYTES_OUT] [note]` — the test helpers parse this. */
export function formatAccessLine(e: AccessEntry): string {
  const path = e.path.replace(/[\s"\\]/g, (c) => encodeURIComponent(c));
  const note = e.note ? ` ${JSON.stringify(e.note)}` : '';
  const out = e.bytesOut !== undefined ? ` out=${e.bytesOut}` : '';
  return `${new Date().toISOString()} ${e.remote} ${e.user ?? '-'} "${e.method} ${path}" ${e.status} ${e.bytesIn} ${e.ms}ms${out}${note}\n`;
}

/** Where access lines go: a file (appended) or stderr. */
export function accessLogWriter(file: string | undefined): { write(line: string): void; close(): Promise<void> } {
  if (!file) return { write: (l) => void process.stderr.write(l), close: async () => {} };
  // A synchronous append per request: a line is on disk when the client has its answer, so a
  // test (or tail -f) reading the log right after a response sees it.
  const fd = openSync(file, 'a', 0o640);
  return {
    write: (l) => void writeSync(fd, l),
    close: async () => closeSync(fd),
  };
}
