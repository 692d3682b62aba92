/** The checker's result: the JSON report's shape (documented in docs/FORMAT.md, "Checker JSON report"). */

export const PROBLEM_CODES = {
  // errors: a restore would fail or a backup is not happening
  'missing-host': 'error',
  'no-backups': 'error',
  'no-complete-chain': 'error',
  'missing-volume': 'error',
  'missing-manifest': 'error',
  'missing-signatures': 'error',
  'missing-sums': 'error',
  'missing-file': 'error',
  'bad-sums': 'error',
  'bad-manifest': 'error',
  // the sums file lists every file of its set (SPEC): one left out is never hash-checked
  'unlisted-file': 'error',
  'checksum-mismatch': 'error',
  truncated: 'error',
  'trailing-data': 'error',
  'bad-framing': 'error',
  'stale-full': 'error',
  'stale-incremental': 'error',
  'stale-snowflake': 'error',
  'missing-snowflake': 'error',
  'missing-sha256': 'error',
  'size-too-small': 'error',
  'size-too-large': 'error',
  unreadable: 'error',
  symlink: 'error',
  'future-time': 'error',
  'broken-chain': 'error',
  'check-failed': 'error',
  // warnings: something to clean up or look at
  'unknown-host': 'warning',
  'unknown-file': 'warning',
  'temp-leftover': 'warning',
  'incomplete-set': 'warning',
  'orphan-set': 'warning',
} as const;

export type ProblemCode = keyof typeof PROBLEM_CODES;
export type Severity = 'error' | 'warning';

export interface Problem {
  code: ProblemCode;
  severity: Severity;
  /** One line for a human. */
  message: string;
  /** The file at fault, relative to the host directory (or to the root for temp files). */
  file?: string;
  /** The set at fault: `full.T` or `inc.T1.to.T2` (setKey). */
  set?: string;
}

export function problem(code: ProblemCode, message: string, at: { file?: string; set?: string } = {}): Problem {
  return { code, severity: PROBLEM_CODES[code], message, ...at };
}

/**
 * A symlink where only the sinks write. nginx's dav PUT follows symlinks whatever
 * disable_symlinks says, so a link in the tree lets uploads land outside it.
 */
export function symlinkProblem(file: string): Problem {
  return problem(
    'symlink',
    `${file}: a symlink in the sink tree (an nginx PUT follows it out of the root): remove it`,
    {
      file,
    },
  );
}

export type HostKind = 'linux' | 'opnsense' | 'openwrt' | 'unknown';

export interface SnowflakeStatus {
  kind: string;
  file: string;
  time: number;
  ageDays: number;
  bytes: number;
  /** 'ok' verified (--deep), 'present' not verified (--quick), 'missing', 'mismatch'. */
  sha256: 'ok' | 'present' | 'missing' | 'mismatch';
}

export interface HostReport {
  host: string;
  kind: HostKind;
  enrolled: boolean;
  status: 'ok' | 'warning' | 'problem';
  /** Bytes of all files in the host's directory. */
  bytes: number;
  files: number;
  /** Linux: newest chain's full time / last set time (epoch seconds), null when none. */
  lastFull: number | null;
  lastIncremental: number | null;
  fullAgeDays: number | null;
  incrementalAgeDays: number | null;
  /** Linux: sets found, complete sets, sets in the newest chain; newest set complete. */
  sets: number;
  completeSets: number;
  chainLength: number;
  newestSetComplete: boolean | null;
  /** Snowflake hosts: newest file of each kind. */
  snowflakes: SnowflakeStatus[];
  problems: Problem[];
}

export interface CheckReport {
  schema: 1;
  root: string;
  checkedAt: number;
  mode: 'deep' | 'quick';
  ok: boolean;
  summary: { hosts: number; ok: number; warning: number; problem: number; errors: number; warnings: number };
  hosts: HostReport[];
  /** The root could not be listed: no host was checked (exit 2). */
  error?: string;
}

export function hostStatus(problems: Problem[]): HostReport['status'] {
  if (problems.some((p) => p.severity === 'error')) return 'problem';
  return problems.length ? 'warning' : 'ok';
}

export function summarize(
  root: string,
  checkedAt: number,
  mode: CheckReport['mode'],
  hosts: HostReport[],
): CheckReport {
  const all = hosts.flatMap((h) => h.problems);
  return {
    schema: 1,
    root,
    checkedAt,
    mode,
    ok: all.length === 0,
    summary: {
      hosts: hosts.length,
      ok: hosts.filter((h) => h.status === 'ok').length,
      warning: hosts.filter((h) => h.status === 'warning').length,
      problem: hosts.filter((h) => h.status === 'problem').length,
      errors: all.filter((p) => p.severity === 'error').length,
      warnings: all.filter((p) => p.severity === 'warning').length,
    },
    hosts,
  };
}

export const DAY = 86400;
export function days(seconds: number): number {
  return Math.round((seconds / DAY) * 10) / 10;
}
