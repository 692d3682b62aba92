/** Exit codes of every deaddrop command (SPEC §4); scripts test these. */
export const ExitCode = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  LOCKED: 3,
  DEGRADED: 4,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error meant for the operator: its message is printed as one line, its code becomes the exit code. */
export class DeaddropError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCode.FAILED, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeaddropError';
    this.exitCode = exitCode;
  }
}

/** Bad arguments or configuration: exit 2. */
export class UsageError extends DeaddropError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.USAGE, options);
    this.name = 'UsageError';
  }
}

/** A configuration file that is missing, unreadable or invalid; the message names file and field. */
export class ConfigError extends UsageError {
  readonly file: string;
  readonly field: string | undefined;
  constructor(file: string, field: string | undefined, problem: string) {
    super(field ? `${file}: ${field}: ${problem}` : `${file}: ${problem}`);
    this.name = 'ConfigError';
    this.file = file;
    this.field = field;
  }
}

/** Another run holds the lock: exit 3. */
export class LockedError extends DeaddropError {
  constructor(message: string) {
    super(message, ExitCode.LOCKED);
    this.name = 'LockedError';
  }
}

/** One line for the operator, whatever was thrown. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && !(err instanceof DeaddropError) && !err.message.includes(code)) return `${err.message} (${code})`;
    return err.message;
  }
  return String(err);
}

export function exitCodeOf(err: unknown): number {
  return err instanceof DeaddropError ? err.exitCode : ExitCode.FAILED;
}

/**
 * `err` with the file it concerns. Node names the path of a failed open or rename but not of
 * a failed write or close on an open file ("ENOSPC: no space left on device, write"), and the
 * operator must know which disk filled up. The same error, its message ending in the path
 * the way Node's own do; one that names a path already is left as it is.
 */
export function naming(path: string, err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const e = err as NodeJS.ErrnoException;
  if (e.code === undefined || e.path !== undefined || err instanceof DeaddropError) return err;
  e.path = path;
  e.message = `${e.message} '${path}'`;
  return err;
}
