/**
 * Progress of the walk through the tree: a redrawn line on a TTY, a plain log line now and then
 * otherwise (journal-friendly), `progress` events with --json. The ETA needs the size of the
 * tree, known only from the previous run (deaddrop_backup_source_bytes); without it, none.
 */
import type { Logger } from '@deaddrop/common/log';
import { formatBytes } from '@deaddrop/common/units';
import type { ScanProgress } from './scan-progress.js';

export interface ProgressOptions {
  log: Logger;
  /** Bytes the walk is expected to cover (previous run). */
  expectedBytes?: number;
  /** No human progress at all (--quiet); JSON events still go out. */
  quiet?: boolean;
  now?: () => number;
}

const INTERVAL_MS = { tty: 250, json: 5_000, plain: 60_000 };

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export interface ProgressFigures extends ScanProgress {
  /** Bytes per second since the walk began. */
  rate: number;
  /** Seconds left, when the tree's size is known and not yet passed. */
  eta?: number;
}

export function progressFigures(p: ScanProgress, seconds: number, expectedBytes?: number): ProgressFigures {
  const rate = seconds > 0 ? p.bytes / seconds : 0;
  const left = expectedBytes === undefined ? undefined : expectedBytes - p.bytes;
  const eta = !p.done && left !== undefined && left > 0 && rate > 0 ? left / rate : undefined;
  return { ...p, rate, ...(eta !== undefined ? { eta } : {}) };
}

export function progressLine(f: ProgressFigures): string {
  const parts = [`${f.files} files`, formatBytes(f.bytes), `${formatBytes(Math.round(f.rate))}/s`];
  if (f.eta !== undefined) parts.push(`ETA ${formatDuration(f.eta)}`);
  return `${f.done ? 'scanned' : 'scanning'}: ${parts.join(', ')}`;
}

/** The onProgress callback for runBackup. */
export function progressReporter(opts: ProgressOptions): (p: ScanProgress) => void {
  const { log } = opts;
  const now = opts.now ?? Date.now;
  const mode = log.json ? 'json' : log.isTTY ? 'tty' : 'plain';
  let began: number | undefined;
  let shown: number | undefined; // the first call always shows: the walk has begun
  return (p) => {
    const t = now();
    began ??= t;
    if (!p.done && shown !== undefined && t - shown < INTERVAL_MS[mode]) return;
    shown = t;
    const f = progressFigures(p, (t - began) / 1000, opts.expectedBytes);
    if (mode === 'json') {
      log.event('progress', { files: f.files, bytes: f.bytes, rate: Math.round(f.rate), eta: f.eta, done: f.done });
      return;
    }
    if (opts.quiet) return;
    if (mode === 'tty') {
      if (p.done) log.clearProgress();
      else log.progress(progressLine(f));
    } else if (!p.done) log.info(progressLine(f));
  };
}
