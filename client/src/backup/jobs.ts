/**
 * Work units the backup hands to worker threads. A job is a run of consecutive planned
 * actions (small files, directories, links, deletions) or one range of a large file; its
 * result is the job's share of the volumes (whole gzip members, cut at entry boundaries),
 * its signature-archive entries and Filelist lines. Results are used in job order.
 */
import type { FileChange } from '../format/manifest.js';
import type { ScanEntry } from '../scan/entry.js';
import type { PathIndex } from '../scan/path-index.js';
import type { EntryStats } from './entry-stats.js';
import type { BlockPosition } from './volume-writer.js';

export type JobItem =
  | { kind: 'meta'; entry: ScanEntry }
  | { kind: 'deleted'; index: PathIndex; wasFile: boolean }
  /** A whole file of less than RANGE_FILE bytes, stored as a snapshot. */
  | { kind: 'file'; entry: ScanEntry; change: FileChange; hadOld: boolean; oldWasFile: boolean }
  /**
   * A changed file of less than RANGE_FILE bytes, sent as a delta against its stored (MD4)
   * signature, a copy of its own.
   */
  | { kind: 'diff'; entry: ScanEntry; oldSignature: Uint8Array }
  /** Chunks [from, to) (0-based, 64 KiB each) of a large snapshot. */
  | { kind: 'range'; entry: ScanEntry; from: number; to: number }
  /**
   * Bytes [from, to) of a large changed file, sent as delta commands against its stored
   * signature (shared memory, parsed once per worker: `sigKey` names it).
   */
  | { kind: 'delta-range'; entry: ScanEntry; from: number; to: number; sigKey: number; oldSignature: Uint8Array };

export interface Job {
  id: number;
  items: JobItem[];
  /** Deflate level for compressible data. */
  level: number;
}

export interface Member {
  /** A gzip member, or with `raw` the tar bytes themselves. */
  data: Uint8Array;
  first: BlockPosition;
  last: BlockPosition;
  /**
   * Too small to be a member of its own (a few entries between two changed files, say): the
   * main thread adds the tar bytes to the member it is building, so small pieces share one
   * deflate dictionary (the bench's daily set: 188 members -> 41, 30 KB smaller).
   */
  raw?: boolean;
  /** With `raw`: the data class of its larger pieces (compressibility.ts), if it has any. */
  compressible?: boolean;
}

export interface JobProblem {
  kind: 'vanished' | 'unreadable' | 'changed';
  path: Uint8Array;
  message: string;
}

export interface RangeOutcome {
  /** The signature records of the range (with the 12-byte header for the first range). */
  signature: Uint8Array;
  /** The file differed from the scan (size, mtime, ctime): padded/cut to the scanned size. */
  changed: boolean;
  /** The file could not be opened at all (only meaningful for the first range). */
  failed?: { kind: 'vanished' | 'unreadable' | 'not-a-file'; message: string };
  /** A delta-range's commands (formats §7; magic only in the first, END only in the last). */
  delta?: Uint8Array;
}

export interface JobResult {
  id: number;
  members: Member[];
  /** Complete signature-archive entries (header, data, padding) of the job's items. */
  sigtar: Uint8Array;
  files: { change: FileChange; index: PathIndex }[];
  problems: JobProblem[];
  stats: EntryStats;
  range?: RangeOutcome;
  tarBytes: number;
}

/** Files at least this large are cut into ranges processed in parallel. */
export const RANGE_FILE = 1 << 20;
/**
 * New-file bytes per delta-range job (rounded up to whole signature blocks). 1 MiB, as a full
 * backup's ranges: at 4 MiB each worker's range buffer and the results queued ahead (8 jobs)
 * made the bench's incremental peak at 186-194 MiB, against 169-174 MiB at 1 MiB, in the same
 * time (1.9-2.2 s), for 1.6 KB more added (a block that straddles a cut goes as literal).
 */
export const DELTA_RANGE = 1 << 20;
/** Data per batch job before it is closed. */
export const BATCH_BYTES = 1 << 20;
/**
 * What an entry adds to its batch's results besides its data, counted towards BATCH_BYTES: a
 * tar header in the volume, a header and a signature record padded to 512 bytes in the
 * signature archive. Without it a batch of 2000 tiny files (a directory of rustdoc pages) was
 * well under 1 MiB of data but brought 2 MB of signature archive, eight such results waited
 * ahead of the writer, and the backup of 65,529 files (888 MB) peaked at 176-179 MiB.
 */
export const ENTRY_OVERHEAD = 1536;
export const BATCH_ITEMS = 2000;

/**
 * Chunks per range: about 1 MiB, and a whole number of signature blocks so each range's
 * signature records are independent (block lengths are multiples of 512).
 */
export function rangeChunks(blockLen: number): number {
  const j = blockLen / 512;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const step = j / gcd(128, j);
  return Math.ceil(16 / step) * step;
}
