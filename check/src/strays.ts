/**
 * Stray files in a host directory (no backup's name, temp files of aborted uploads). Anyone
 * with the host's password can upload millions of them: a few are reported one by one, more as
 * one problem per kind with the count and the first names (as absent.ts does for listed
 * files), so neither the report nor the check's memory grows with their number.
 */
import { problem, type Problem } from './report.js';

/** Up to this many stray files of a kind, per host, are each a problem of their own. */
export const MAX_NAMED_STRAYS = 3;

type StrayCode = 'unknown-file' | 'temp-leftover';

const WHAT: Record<StrayCode, string> = {
  'unknown-file': 'files that are no backup files',
  'temp-leftover': 'temp files of aborted uploads',
};

export class StrayFiles {
  private readonly named = new Map<StrayCode, Problem[]>();
  private readonly counts = new Map<StrayCode, number>();

  /** One stray `file`; `message` is built only for the first few. */
  add(code: StrayCode, file: string, message: () => string): void {
    const n = (this.counts.get(code) ?? 0) + 1;
    this.counts.set(code, n);
    if (n > MAX_NAMED_STRAYS) return;
    const list = this.named.get(code) ?? [];
    list.push(problem(code, message(), { file }));
    this.named.set(code, list);
  }

  /** Each stray while a kind has at most MAX_NAMED_STRAYS, else one with the count; by kind. */
  problems(): Problem[] {
    const out: Problem[] = [];
    for (const code of Object.keys(WHAT) as StrayCode[]) {
      const list = this.named.get(code);
      if (!list) continue;
      const n = this.counts.get(code)!;
      if (n <= MAX_NAMED_STRAYS) {
        out.push(...list);
        continue;
      }
      const first = list.map((p) => p.file).join(', ');
      out.push(problem(code, `${n} ${WHAT[code]}: ${first}, …`, { file: list[0]!.file }));
    }
    return out;
  }
}
