/**
 * Progress of a restore, measured in stored bytes read: the sizes of the volumes to read are
 * known from the listing before the first one opens, so the rate and ETA hold from the start.
 */
import { Logger } from '@deaddrop/common/log';
import { formatBytes } from '@deaddrop/common/units';
import { formatDuration, progressOutput, type ProgressOptions } from '../ops/progress.js';
import type { PathIndex } from '../scan/path-index.js';
import type { LoadedSet } from './load-set.js';
import { volumesFor } from './read-volumes.js';

export interface RestoreProgress {
  /** Volumes read and verified so far, and how many this restore reads. */
  volumes: number;
  volumesTotal: number;
  /** Stored (encrypted) bytes read so far, and the stored size of all those volumes. */
  storedBytes: number;
  storedTotal: number;
  /** Files restored so far. */
  files: number;
  done: boolean;
}

/** A restore's progress before the first volume opens: what it will read, from the listing's sizes. */
export function startProgress(sets: LoadedSet[], paths: PathIndex[], sizes: Map<string, number>): RestoreProgress {
  const names = sets.flatMap((ls) => volumesFor(ls.manifest, paths).map((v) => ls.volumes.get(v.number)!.name));
  return {
    volumes: 0,
    volumesTotal: names.length,
    storedBytes: 0,
    storedTotal: names.reduce((sum, name) => sum + (sizes.get(name) ?? 0), 0),
    files: 0,
    done: false,
  };
}

/** Counts a restore's reads into `at`, reporting each change; `files` says how many so far. */
export function progressCounter(
  at: RestoreProgress,
  report: ((p: RestoreProgress) => void) | undefined,
  files: () => number,
) {
  const tell = () => {
    at.files = files();
    report?.(at);
  };
  return {
    stored(bytes: number): void {
      at.storedBytes += bytes;
      tell();
    },
    verified(): void {
      at.volumes++;
      tell();
    },
    done(): void {
      at.done = true;
      tell();
    },
  };
}

export function restoreProgressLine(p: RestoreProgress, seconds: number): string {
  const rate = seconds > 0 ? p.storedBytes / seconds : 0;
  const left = p.storedTotal - p.storedBytes;
  const parts = [
    `volume ${Math.min(p.volumes + 1, p.volumesTotal)}/${p.volumesTotal}`,
    `${formatBytes(p.storedBytes)} of ${formatBytes(p.storedTotal)}`,
    `${formatBytes(Math.round(rate))}/s`,
  ];
  if (rate > 0 && left > 0) parts.push(`ETA ${formatDuration(left / rate)}`);
  parts.push(`${p.files} files`);
  return `restoring: ${parts.join(', ')}`;
}

/**
 * The onProgress callback for runRestore. No --json events: restore's stdout with --json is
 * one JSON document, the report, that scripts parse whole.
 */
export function restoreProgressReporter(opts: Omit<ProgressOptions, 'expectedBytes'>): (p: RestoreProgress) => void {
  return progressOutput<RestoreProgress>(opts, { line: restoreProgressLine, logFirst: false });
}

/**
 * Run a command's restore with a progress reporter for its --json/--quiet flags; the line is
 * cleared before the command prints its result or its error.
 */
export async function withRestoreProgress<T>(
  flags: { json?: boolean; quiet?: boolean },
  work: (onProgress: (p: RestoreProgress) => void) => Promise<T>,
): Promise<T> {
  const log = new Logger({ json: flags.json, level: flags.quiet ? 'error' : 'info' });
  try {
    return await work(restoreProgressReporter({ log, quiet: flags.quiet }));
  } finally {
    log.clearProgress();
  }
}
