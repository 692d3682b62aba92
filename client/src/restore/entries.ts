/**
 * The entries of a difftar volume (formats §5.2): snapshot/diff/deleted and multivol chunks,
 * with the path as an index. Names that would leave the restore root (`..`, empty or `.`
 * components) are refused. After the tar end the rest of the data is still read, so the
 * payload's hash checks see every byte.
 */
import { DeaddropError } from '@deaddrop/common/errors';
import type { RawHeader } from '../archive/tar-header.js';
import { readTarEntries } from '../backup/tar-entries.js';
import type { PathIndex } from '../scan/path-index.js';

export type EntryKind = 'snapshot' | 'diff' | 'deleted';

export interface VolumeEntry {
  kind: EntryKind;
  /** A chunk of a multivol snapshot or diff (consecutive chunks of one index form one payload). */
  multivol: boolean;
  index: PathIndex;
  header: RawHeader;
  /** The entry's data; at most 64 KiB in duplicity volumes. Call before taking the next entry. */
  read(): Promise<Buffer>;
}

const PREFIXES: Record<string, { kind: EntryKind; multivol: boolean }> = {
  snapshot: { kind: 'snapshot', multivol: false },
  diff: { kind: 'diff', multivol: false },
  deleted: { kind: 'deleted', multivol: false },
  multivol_snapshot: { kind: 'snapshot', multivol: true },
  multivol_diff: { kind: 'diff', multivol: true },
};

/** Largest entry accepted: duplicity cuts payloads in 64 KiB chunks; this bounds memory on a hostile volume. */
const MAX_ENTRY = 16 * 1024 * 1024;

export function parseEntryName(name: Buffer, what: string): Omit<VolumeEntry, 'header' | 'read'> {
  const text = () => JSON.stringify(name.toString('utf8'));
  const slash = name.indexOf(0x2f);
  const prefix = PREFIXES[(slash < 0 ? name : name.subarray(0, slash)).toString('latin1')];
  if (!prefix) throw new DeaddropError(`${what}: unexpected entry ${text()}`);
  let rest = slash < 0 ? Buffer.alloc(0) : name.subarray(slash + 1);
  while (rest.length > 0 && rest[rest.length - 1] === 0x2f) rest = rest.subarray(0, -1);
  if (prefix.multivol) {
    const cut = rest.lastIndexOf(0x2f);
    if (cut < 0 || !/^\d+$/.test(rest.subarray(cut + 1).toString('latin1')))
      throw new DeaddropError(`${what}: multivol entry ${text()} lacks a chunk number`);
    rest = rest.subarray(0, cut);
  }
  const index: PathIndex = [];
  if (!(rest.length === 0 || (rest.length === 1 && rest[0] === 0x2e))) {
    let start = 0;
    for (let i = 0; i <= rest.length; i++) {
      if (i < rest.length && rest[i] !== 0x2f) continue;
      const c = rest.subarray(start, i);
      if (c.length === 0 || c.equals(DOT) || c.equals(DOTDOT))
        throw new DeaddropError(`${what}: entry ${text()} leaves the backup root: refused`);
      index.push(Buffer.from(c));
      start = i + 1;
    }
  }
  return { ...prefix, index };
}
const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');

export async function* volumeEntries(payload: AsyncIterable<Buffer>, what: string): AsyncGenerator<VolumeEntry> {
  const it = payload[Symbol.asyncIterator]();
  // the tar reader stops at the first zero block and closes its source: keep ours open
  const view: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({ next: () => it.next(), return: async () => ({ done: true, value: undefined }) }),
  };
  try {
    for await (const e of readTarEntries(view, what)) {
      if (e.header.type === '1') throw new DeaddropError(`${what}: hard link entries are not part of the format`);
      if (e.header.size > MAX_ENTRY)
        throw new DeaddropError(`${what}: entry of ${e.header.size} bytes: larger than any duplicity chunk`);
      yield { ...parseEntryName(e.header.name, what), header: e.header, read: () => e.read() };
    }
    while (!(await it.next()).done); // padding, gpg top-off: hashed, not parsed
  } finally {
    await it.return?.();
  }
}
