/**
 * How a backup run ended, as metrics and pings see it. RunFigures is the part of
 * BackupRunResult they read; fields the transport may or may not report count as 0.
 */
import { ExitCode, exitCodeOf } from '@deaddrop/common/errors';
import { Status, type RunKind, type StatusValue } from './metrics.js';

export interface RunFigures {
  result: 'ok' | 'degraded' | 'failed' | 'dry-run';
  exitCode: number;
  set?: string;
  seconds: number;
  storedBytes: number;
  stats: object;
  problems: readonly unknown[];
  delivery?: Record<string, { ok: boolean; bytes?: number; lagging?: readonly string[]; lagCount?: number }>;
  spoolBytes?: number;
}

export type RunOutcome = { kind: 'finished'; run: RunFigures } | { kind: 'thrown'; error: unknown };

export function runKind(o: RunOutcome): RunKind {
  if (o.kind === 'thrown') return exitCodeOf(o.error) === ExitCode.LOCKED ? 'locked' : 'failed';
  return o.run.result === 'ok' ? 'ok' : o.run.result === 'degraded' ? 'degraded' : 'failed';
}

export const STATUS_OF: Record<RunKind, StatusValue> = {
  ok: Status.OK,
  degraded: Status.DEGRADED,
  failed: Status.FAILED,
  locked: Status.LOCKED,
};

/** A numeric field of the run's stats (EntryStats), 0 when absent (dry run, older result). */
export function statOf(run: RunFigures, field: string): number {
  const v = (run.stats as Record<string, unknown>)[field];
  return typeof v === 'number' ? v : 0;
}
