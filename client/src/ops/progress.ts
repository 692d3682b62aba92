/**
 * Progress of long work: a redrawn line on a TTY, a plain log line now and then otherwise
 * (journal-friendly), `progress` events with --json. For a backup, the walk through the tree;
 * its ETA needs the size of the tree, known only from the previous run
 * (deaddrop_backup_source_bytes); without it, none. Restore's view is restore/progress.ts.
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
  /** While true, reports are counted (the clock runs) but not shown: another line has the screen. */
  held?: () => boolean;
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

/** How a kind of progress is shown. */
export interface ProgressView<P> {
  /** The human line for `p`, `seconds` after the first report. */
  line(p: P, seconds: number): string;
  /** The fields of the --json `progress` event; without it, --json shows no progress. */
  event?(p: P, seconds: number): Record<string, unknown>;
  /** Not a TTY: log the first report too, not only one a minute. */
  logFirst: boolean;
}

/**
 * Reports at a pace that suits where they go: redrawn every 250 ms on a TTY, a log line a
 * minute otherwise, an event every 5 s with --json; the last report (`done`) always counts.
 */
export function progressOutput<P extends { done: boolean }>(
  opts: Omit<ProgressOptions, 'expectedBytes'>,
  view: ProgressView<P>,
): (p: P) => void {
  const { log } = opts;
  const now = opts.now ?? Date.now;
  const mode = log.json ? 'json' : log.isTTY ? 'tty' : 'plain';
  let began: number | undefined;
  let shown: number | undefined;
  return (p) => {
    const t = now();
    if (began === undefined) {
      began = t;
      if (mode === 'plain' && !view.logFirst) shown = t;
    }
    if (opts.held?.()) return;
    if (!p.done && shown !== undefined && t - shown < INTERVAL_MS[mode]) return;
    shown = t;
    const seconds = (t - began) / 1000;
    if (mode === 'json') {
      if (view.event) log.event('progress', view.event(p, seconds));
      return;
    }
    if (opts.quiet) return;
    if (mode === 'tty') {
      if (p.done) log.clearProgress();
      else log.progress(view.line(p, seconds));
    } else if (!p.done) log.info(view.line(p, seconds));
  };
}

/** The onProgress callback for runBackup; the first report shows at once (the walk has begun). */
export function progressReporter(opts: ProgressOptions): (p: ScanProgress) => void {
  const figures = (p: ScanProgress, seconds: number) => progressFigures(p, seconds, opts.expectedBytes);
  return progressOutput<ScanProgress>(opts, {
    line: (p, seconds) => progressLine(figures(p, seconds)),
    event: (p, seconds) => {
      const f = figures(p, seconds);
      return { files: f.files, bytes: f.bytes, rate: Math.round(f.rate), eta: f.eta, done: f.done };
    },
    logFirst: true,
  });
}
