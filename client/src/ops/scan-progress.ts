/**
 * Counts the tree as the backup walks it, for progress displays. The walk is pulled by the
 * writers (a short lookahead only), so "scanned so far" tracks how far the set has got.
 */
import type { ScanEntry } from '../scan/entry.js';

export interface ScanProgress {
  /** Regular files seen so far (changed or not). */
  files: number;
  /** Their sizes added up. */
  bytes: number;
  /** False until the walk has ended; the last call has true. */
  done: boolean;
}

export async function* countScan(
  tree: AsyncIterable<ScanEntry>,
  onProgress: ((p: ScanProgress) => void) | undefined,
): AsyncGenerator<ScanEntry> {
  if (!onProgress) return yield* tree;
  const p: ScanProgress = { files: 0, bytes: 0, done: false };
  for await (const entry of tree) {
    if (entry.type === 'file') {
      p.files++;
      p.bytes += entry.size;
      onProgress({ ...p });
    }
    yield entry;
  }
  onProgress({ ...p, done: true });
}
