/**
 * The metrics model before and after a run: started (status -1, everything else as it was)
 * and finished (status, duration, counters added, sinks up or down).
 */
import { Status, type BackupMetrics } from './metrics.js';
import { runKind, STATUS_OF, statOf, type RunOutcome } from './outcome.js';
import type { ScanProgress } from './scan-progress.js';

/** `prev` with status running; sinks no longer configured are dropped, new ones start at 0. */
export function startedMetrics(prev: BackupMetrics, sinks: readonly string[], now: number): BackupMetrics {
  const keep = (r: Record<string, number>, fill?: number) =>
    Object.fromEntries(
      sinks.flatMap((s) => (r[s] !== undefined ? [[s, r[s]]] : fill !== undefined ? [[s, fill]] : [])),
    ) as Record<string, number>;
  return {
    ...prev,
    status: Status.RUNNING,
    lastStart: now,
    sinkUp: keep(prev.sinkUp),
    sinkLagging: keep(prev.sinkLagging),
    uploadedBytes: keep(prev.uploadedBytes, 0),
    files: { ...prev.files },
    runs: { ...prev.runs },
  };
}

export function finishedMetrics(
  started: BackupMetrics,
  outcome: RunOutcome,
  seconds: number,
  now: number,
  scan?: ScanProgress,
): BackupMetrics {
  const kind = runKind(outcome);
  const m: BackupMetrics = {
    ...started,
    status: STATUS_OF[kind],
    sinkUp: { ...started.sinkUp },
    sinkLagging: { ...started.sinkLagging },
    uploadedBytes: { ...started.uploadedBytes },
    files: { ...started.files },
    runs: { ...started.runs, [kind]: started.runs[kind] + 1 },
  };
  // A locked run did nothing: its duration would only hide the real last run's.
  if (kind !== 'locked') m.lastDuration = seconds;
  if (scan?.done) {
    m.sourceFiles = scan.files;
    m.sourceBytes = scan.bytes;
  }
  if (outcome.kind === 'thrown') return m;

  const run = outcome.run;
  if (kind === 'ok' || kind === 'degraded') m.lastSuccess = now;
  m.readBytes += statOf(run, 'bytesRead');
  m.storedBytes += run.storedBytes;
  m.files.new += statOf(run, 'newFiles');
  m.files.changed += statOf(run, 'changedFiles');
  m.files.deleted += statOf(run, 'deletedFiles');
  m.errors += run.problems.length;
  m.spoolBytes = run.spoolBytes ?? 0;
  for (const [sink, d] of Object.entries(run.delivery ?? {})) {
    m.sinkUp[sink] = d.ok ? 1 : 0;
    m.sinkLagging[sink] = d.lagCount ?? d.lagging?.length ?? 0;
    m.uploadedBytes[sink] = (m.uploadedBytes[sink] ?? 0) + (d.bytes ?? 0);
  }
  return m;
}
