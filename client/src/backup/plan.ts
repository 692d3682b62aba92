/**
 * What goes into a set: the current tree merged with the previous state by index. New and
 * changed objects, deletions (never of the root), and for a changed regular file that has a
 * stored signature, that signature, so the file is sent as a delta (even when only metadata
 * changed, like duplicity). A full backup is the same walk against an empty state. An
 * `unreadable` placeholder (walk.ts) makes no action: the chain's entries there stay as they were.
 */
import type { ScanEntry } from '../scan/entry.js';
import type { OwnerNames } from '../scan/owners.js';
import { compareIndex, isPrefixIndex, type PathIndex } from '../scan/path-index.js';
import { isChanged } from './compare.js';
import type { OldEntry } from './old-signatures.js';

export type Action =
  | { op: 'new'; entry: ScanEntry }
  | { op: 'changed'; entry: ScanEntry; old: OldEntry; signature?: Buffer }
  | { op: 'deleted'; index: PathIndex; wasFile: boolean };

async function* none(): AsyncGenerator<OldEntry> {}

/** Old entries below (an unreadable object: at and below) this one are kept, not deleted. */
const keepsOld = (e: ScanEntry) => e.unlisted === true || e.unreadable === true;

/** What to do with an object both in the tree and in the old state: nothing when unchanged. */
async function matchedAction(
  entry: ScanEntry,
  old: OldEntry,
  owners: OwnerNames,
  racySince: number | undefined,
): Promise<Action | undefined> {
  if (entry.unreadable) return undefined; // kept as the chain has it
  if (old.kind === 'deleted') return { op: 'new', entry };
  if (!isChanged(entry, old, owners, racySince)) return undefined;
  const diffable = entry.type === 'file' && old.kind === 'signature' && old.type === 'file';
  return diffable ? { op: 'changed', entry, old, signature: await old.readSignature() } : { op: 'changed', entry, old };
}

/** `racySince`: the time of the chain's last set (compare.ts: a file stored in its second is read again). */
export async function* planActions(
  tree: AsyncIterable<ScanEntry>,
  oldState: AsyncGenerator<OldEntry> = none(),
  owners: OwnerNames,
  racySince?: number,
): AsyncGenerator<Action> {
  const scan = tree[Symbol.asyncIterator]();
  let s = await scan.next();
  let o = await oldState.next();
  // Below a directory we could not list, old entries are kept rather than deleted.
  let keepUnder: PathIndex | undefined;
  try {
    while (!s.done || !o.done) {
      const cmp = s.done ? 1 : o.done ? -1 : compareIndex(s.value.index, o.value.index);
      if (cmp < 0) {
        const entry = s.value as ScanEntry;
        if (keepsOld(entry)) keepUnder = entry.index;
        if (!entry.unreadable) yield { op: 'new', entry };
        s = await scan.next();
      } else if (cmp > 0) {
        const old = o.value as OldEntry;
        const kept = keepUnder && isPrefixIndex(keepUnder, old.index);
        if (!kept && old.kind !== 'deleted' && old.index.length > 0)
          yield { op: 'deleted', index: old.index, wasFile: old.type === 'file' };
        o = await oldState.next();
      } else {
        const entry = s.value as ScanEntry;
        const old = o.value as OldEntry;
        if (keepsOld(entry)) keepUnder = entry.index;
        const action = await matchedAction(entry, old, owners, racySince);
        if (action) yield action;
        s = await scan.next();
        o = await oldState.next();
      }
    }
  } finally {
    await oldState.return(undefined);
  }
}
