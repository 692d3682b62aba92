/**
 * Upload progress where each sink reads a file on its own and at its own time (early upload,
 * delivery): a file counts once in the totals, its bytes as far as the furthest sink has read,
 * and it has ended when no sink is still on it (a sink that sends it later adds nothing).
 */
import type { QueuedUpload, UploadMeter } from '../ops/upload-progress.js';

export interface FileProgress {
  read: (bytes: number) => void;
  ended: () => void;
}

interface SharedFile {
  counted: QueuedUpload | undefined;
  /** Bytes counted so far: the furthest any sink has read. */
  furthest: number;
  /** Sinks on it now. */
  readers: number;
  done: boolean;
}

export function sharedFileProgress(meter: UploadMeter | undefined) {
  const files = new Map<string, SharedFile>();
  return {
    /** One sink's upload of a file (`key` names it among all the run's files). */
    file(key: string, size: number): FileProgress {
      let f = files.get(key);
      if (!f) files.set(key, (f = { furthest: 0, readers: 0, done: false, counted: meter?.queue(size) }));
      const file = f;
      file.readers++;
      let at = 0;
      return {
        read: (bytes) => {
          at += bytes;
          if (file.done || at <= file.furthest) return;
          file.counted?.read(at - file.furthest);
          file.furthest = at;
        },
        ended: () => {
          if (--file.readers > 0 || file.done) return;
          file.done = true;
          file.counted?.ended();
        },
      };
    },
  };
}

export type SharedFileProgress = ReturnType<typeof sharedFileProgress>;
