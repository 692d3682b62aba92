/**
 * What the backup holds at a time, without writing anything: the sets' entries merged in
 * memory (the newest entry of each path wins, deletions remove it). Sizes of patched files
 * come from their deltas. Paths and link targets as showBytes shows them.
 */
import { ENTRY_TYPE_OF_FLAG, TarType } from '../archive/tar-header.js';
import { compareIndex, type PathIndex } from '../scan/path-index.js';
import { DeltaSize } from './delta-size.js';
import type { VolumeEntry } from './entries.js';
import type { KeySource } from './key.js';
import type { LoadedSet } from './load-set.js';
import { progressCounter, type RestoreProgress } from './progress.js';
import { readVolumes } from './read-volumes.js';
import { showBytes, showIndex } from './show-bytes.js';
import type { RestoreSource } from './source.js';

export interface ListedFile {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'chardev' | 'blockdev' | 'other';
  mode: number;
  mtime: number;
  size: number;
  uid: number;
  gid: number;
  target?: string;
}

export async function filesAt(
  source: RestoreSource,
  sets: LoadedSet[],
  key: KeySource,
  progress?: { at: RestoreProgress; report: (p: RestoreProgress) => void },
): Promise<ListedFile[]> {
  const files = new Map<string, { index: PathIndex; file: ListedFile }>();
  const counter = progress && progressCounter(progress.at, progress.report, () => files.size);
  let open: { key: string; kind: string; size: DeltaSize | number; entry: VolumeEntry } | undefined;
  const close = () => {
    if (!open) return;
    const f = files.get(open.key);
    if (f) f.file.size = typeof open.size === 'number' ? open.size : open.size.result();
    open = undefined;
  };
  for (const ls of sets) {
    await readVolumes(source, ls, key, [], {
      entry: async (e, volume) => {
        const k = Buffer.concat(e.index.flatMap((c) => [c, Buffer.from([0])])).toString('latin1');
        if (open && e.multivol && open.key === k && open.kind === e.kind) return count(open, await e.read());
        close();
        if (e.kind === 'deleted') return void files.delete(k);
        const h = e.header;
        const file: ListedFile = {
          path: showIndex(e.index),
          type: ENTRY_TYPE_OF_FLAG[h.type] ?? (h.type === '\0' || h.type === '7' ? 'file' : 'other'),
          mode: h.mode,
          mtime: h.mtime,
          size: 0,
          uid: h.uid,
          gid: h.gid,
          ...(h.type === TarType.SYMLINK ? { target: showBytes(h.linkname) } : {}),
        };
        files.set(k, { index: e.index, file });
        if (file.type !== 'file') return;
        open = {
          key: k,
          kind: e.kind,
          size: e.kind === 'diff' ? new DeltaSize(`${volume}: ${file.path}`) : 0,
          entry: e,
        };
        count(open, await e.read());
      },
      verified: async () => counter?.verified(),
      stored: counter?.stored,
    });
    close();
  }
  counter?.done();
  return [...files.values()].sort((a, b) => compareIndex(a.index, b.index)).map((f) => f.file);
}

function count(o: { size: DeltaSize | number }, data: Buffer): void {
  if (typeof o.size === 'number') o.size += data.length;
  else o.size.update(data);
}
