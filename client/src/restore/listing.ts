/**
 * What the backup holds at a time, without writing anything: the sets' entries merged (the
 * newest entry of each path wins, deletions remove it), in path order. Sizes of patched files
 * come from their deltas. Paths and link targets as showBytes shows them.
 */
import { ENTRY_TYPE_OF_FLAG, TarType } from '../archive/tar-header.js';
import { DeltaSize } from './delta-size.js';
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

/** Takes each listed file in order; a promise holds the reading back (stdout's backpressure). */
export type ListSink = (file: ListedFile) => void | Promise<void>;

/**
 * The files at the time of `sets` (a chain, oldest first), passed to `sink` in duplicity's
 * path order as they are read; returns how many. The later sets' entries (the changes) are
 * gathered first, each path's newest winning; then the first set (the full) streams by,
 * merged with them in order. So what is held is the changes, not the tree: the listing of a
 * host of 412k files held every entry and peaked at 1.4 GiB.
 */
export async function listFilesAt(
  source: RestoreSource,
  sets: LoadedSet[],
  key: KeySource,
  sink: ListSink,
  progress?: { at: RestoreProgress; report: (p: RestoreProgress) => void },
): Promise<number> {
  let listed = 0;
  const counter = progress && progressCounter(progress.at, progress.report, () => listed);
  const emit = async (file: ListedFile) => {
    listed++;
    await sink(file);
  };
  // a deleted path is null: it hides the full's entry
  const changes = new Map<string, ListedFile | null>();
  for (const ls of sets.slice(1).reverse())
    await readItems(source, ls, key, counter, (k, file) => {
      if (!changes.has(k)) changes.set(k, file); // newest first: the first one seen wins
    });
  const changed = [...changes.keys()].sort(byBytes);
  let next = 0;
  /** The changes before `k` (all of them without one), in order. */
  const changesBefore = async (k?: string) => {
    for (; next < changed.length && (k === undefined || changed[next]! < k); next++) {
      const file = changes.get(changed[next]!);
      if (file) await emit(file);
    }
  };
  await readItems(source, sets[0]!, key, counter, async (k, file) => {
    await changesBefore(k);
    if (changed[next] === k) {
      const newer = changes.get(changed[next++]!);
      if (newer) await emit(newer);
    } else if (file) await emit(file);
  });
  await changesBefore();
  counter?.done();
  return listed;
}

/**
 * The entries of one set in order, each once it is whole (a file's size from all its chunks,
 * or from its delta): `file` null for a deletion. Keyed by the path's components as bytes,
 * each ended by a NUL, so that keys sort as duplicity orders paths (compareIndex).
 */
async function readItems(
  source: RestoreSource,
  ls: LoadedSet,
  key: KeySource,
  counter: ReturnType<typeof progressCounter> | undefined,
  onItem: (k: string, file: ListedFile | null) => void | Promise<void>,
): Promise<void> {
  let open: { key: string; kind: string; file: ListedFile; size: DeltaSize | number } | undefined;
  const close = async () => {
    if (!open) return;
    const { key: k, file, size } = open;
    file.size = typeof size === 'number' ? size : size.result();
    open = undefined;
    await onItem(k, file);
  };
  await readVolumes(source, ls, key, [], {
    entry: async (e, volume) => {
      const k = Buffer.concat(e.index.flatMap((c) => [c, Buffer.from([0])])).toString('latin1');
      if (open && e.multivol && open.key === k && open.kind === e.kind) return count(open, await e.read());
      await close();
      if (e.kind === 'deleted') return void (await onItem(k, null));
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
      if (file.type !== 'file') return void (await onItem(k, file));
      open = { key: k, kind: e.kind, file, size: e.kind === 'diff' ? new DeltaSize(`${volume}: ${file.path}`) : 0 };
      count(open, await e.read());
    },
    verified: async () => counter?.verified(),
    stored: counter?.stored,
  });
  await close();
}

/** Latin1 keys compare as their bytes (one UTF-16 unit per byte). */
function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function count(o: { size: DeltaSize | number }, data: Buffer): void {
  if (typeof o.size === 'number') o.size += data.length;
  else o.size.update(data);
}
