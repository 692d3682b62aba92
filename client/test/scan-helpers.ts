import { lstatSync } from 'node:fs';
import { basename } from 'node:path';
import { entryOfStats, entryTypeOf, type ScanEntry } from '@deaddrop/client/scan/entry';

/** What the scan records for the object at `path` (walk.ts), under the index [name]. */
export function scannedEntry(path: string, name = basename(path)): ScanEntry {
  const st = lstatSync(path, { bigint: true });
  return entryOfStats([Buffer.from(name)], Buffer.from(path), entryTypeOf(st) as ScanEntry['type'], st);
}
