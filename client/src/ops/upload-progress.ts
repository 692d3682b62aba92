/**
 * Progress of the uploads of a backup run: files and bytes queued for the sinks (volumes as
 * they are written, then what delivery finds missing) and read from local disk for them. A
 * file read once for both mirrors counts once; a retry that reads it again adds nothing.
 */
import { formatBytes } from '@deaddrop/common/units';
import { progressOutput, type ProgressOptions } from './progress.js';

export interface UploadProgress {
  /** Files whose uploads ended (with or without success), and files queued so far. */
  files: number;
  filesTotal: number;
  /** Bytes read for the sinks, and the size of every file queued so far. */
  bytes: number;
  bytesTotal: number;
  done: boolean;
}

/** One queued file: the bytes read for it, and the end of its uploads. */
export interface QueuedUpload {
  read(bytes: number): void;
  ended(): void;
}

export class UploadMeter {
  readonly at: UploadProgress = { files: 0, filesTotal: 0, bytes: 0, bytesTotal: 0, done: false };

  constructor(private readonly onChange: (p: UploadProgress) => void = () => {}) {}

  /** Count a file in the totals; report its reads and its end through what this returns. */
  queue(size: number): QueuedUpload {
    this.at.filesTotal++;
    this.at.bytesTotal += size;
    let read = 0;
    return {
      read: (bytes) => {
        read += bytes;
        this.at.bytes += bytes;
        this.onChange(this.at);
      },
      // what was not read (the sink had it, or every sink failed) is done all the same
      ended: () => {
        this.at.files++;
        this.at.bytes += Math.max(0, size - read);
        this.onChange(this.at);
      },
    };
  }

  finish(): void {
    this.at.done = true;
    this.onChange(this.at);
  }
}

export function uploadProgressLine(p: UploadProgress, seconds: number): string {
  const rate = seconds > 0 ? p.bytes / seconds : 0;
  return (
    `uploading: ${Math.min(p.files + 1, p.filesTotal)}/${p.filesTotal} files, ` +
    `${formatBytes(p.bytes)} of ${formatBytes(p.bytesTotal)}, ${formatBytes(Math.round(rate))}/s`
  );
}

/** The onUploadProgress callback for runBackup (human output only: --json gets the result's delivery). */
export function uploadProgressReporter(opts: Omit<ProgressOptions, 'expectedBytes'>): (p: UploadProgress) => void {
  return progressOutput<UploadProgress>(opts, { line: uploadProgressLine, logFirst: false });
}
