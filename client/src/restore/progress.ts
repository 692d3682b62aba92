/**
 * Progress of a restore, measured in stored bytes read: the sizes of the volumes to read are
 * known from the listing before the first one opens, so the rate and ETA hold from the start.
 */
import { formatBytes } from '@deaddrop/common/units';
import { formatDuration, progressOutput, type ProgressOptions } from '../ops/progress.js';

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
