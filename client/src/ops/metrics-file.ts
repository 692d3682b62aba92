/**
 * The textfile on disk: read back the previous one, write a new one atomically (a temp file
 * in the same directory, fsync, rename: node_exporter never sees half a file, and the temp
 * name does not end in .prom so the collector ignores it).
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ensureDir, writeFileAtomic } from '@deaddrop/common/fs';
import { readState } from '../backup/state.js';
import { emptyMetrics, formatMetrics, type BackupMetrics } from './metrics.js';
import { parseMetrics } from './metrics-parse.js';

/**
 * The previous metrics; when the file is missing (first run, or a new metricsFile) the last
 * success comes from the runs recorded in the archive dir, so it never goes back to "none".
 */
export async function readPreviousMetrics(file: string, archiveDir: string): Promise<BackupMetrics> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const m = text === undefined ? emptyMetrics() : parseMetrics(text);
  if (m.lastSuccess === undefined) {
    const runs = (await readState(archiveDir))?.runs ?? [];
    const ends = runs.filter((r) => r.result !== 'failed').map((r) => Date.parse(r.finished) / 1000);
    const last = Math.max(...ends.filter(Number.isFinite));
    if (Number.isFinite(last)) m.lastSuccess = Math.floor(last);
  }
  return m;
}

export async function writeMetricsFile(file: string, host: string, m: BackupMetrics): Promise<void> {
  await ensureDir(dirname(file));
  await writeFileAtomic(file, formatMetrics(host, m), 0o644);
}
