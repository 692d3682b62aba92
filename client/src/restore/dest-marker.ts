/**
 * The restore's own files in DEST, next to what it restores: the marker that says DEST holds an
 * unfinished restore (and which), the lock's name, the staging directories' names. The backup is
 * untrusted: none of them is ever followed through a symlink, and its entries never take their
 * names (isReservedName).
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { lstat, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DeaddropError, UsageError } from '@deaddrop/common/errors';
import { setKey } from '../format/names.js';
import type { PathIndex } from '../scan/path-index.js';
import { iso } from './catalog.js';
import type { LoadedSet } from './load-set.js';
import { showIndex } from './show-bytes.js';

export const STAGING_PREFIX = '.deaddrop-restore-';
/** Ours by name: the prefix and mkdtemp's six characters. */
export const isStagingName = (name: string) =>
  name.startsWith(STAGING_PREFIX) && /^[A-Za-z0-9]{6}$/.test(name.slice(STAGING_PREFIX.length));
/**
 * In a DEST that held nothing, from the start of a restore until its end: what DEST holds is
 * a restore's work, cut short, that the next one (--force) may patch in place as if DEST had
 * been empty, if it restores the same (restore.ts, prepareDest). It holds RESTORING then, with
 * what that restore restores (readMarker: one cut short is not taken as any). In a DEST that held
 * something (--force), from the start of the merge until the end: DEST holds part of the
 * restored state and part of its own content, which the next one must merge into again, never
 * patch in place (an earlier set's deletion would take DEST's own objects along): it holds
 * MERGING ("merge:") then.
 */
export const UNFINISHED = '.deaddrop-restore.unfinished';
export const MERGING =
  'merge: a restore (--force) was moving its restored tree into this directory and did not finish\n';
const RESTORING = 'restore: a restore into an empty directory was restoring this and did not finish\n';

/** The marker of a restore into an empty DEST: what it restores (host, sets, --path), one field per line. */
export function restoringText(host: string, loaded: LoadedSet[], paths: PathIndex[]): string {
  const last = loaded[loaded.length - 1]!.set;
  const shown = paths.map((p) => `path: ${JSON.stringify(showIndex(p))}\n`).sort();
  const sets = loaded.map((l) => setKey(l.set)).join(' ');
  return `${RESTORING}host: ${host}\ntime: ${iso(last.time)}\nsets: ${sets}\n${shown.join('')}`;
}

/** What a RESTORING marker says was restored: host, time, --path arguments. */
function restoringWhat(marker: string): { host?: string; time?: string; paths: string[] } {
  // split at the first ': ' only: a --path may hold one
  const fields = marker.split('\n').map((line) => {
    const at = line.indexOf(': ');
    return at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at + 2)];
  });
  const field = (name: string) => fields.filter(([k]) => k === name).map(([, v]) => v!);
  const shown = (p: string) => {
    try {
      return JSON.parse(p) as string;
    } catch {
      return p; // not as restoringText wrote it: as it stands
    }
  };
  return { host: field('host')[0], time: field('time')[0], paths: field('path').map(shown) };
}

/** One restore at a time per DEST: another one's staging directory is not stale. */
export const LOCK = '.deaddrop-restore.lock';

/**
 * The restore's own names at DEST's root (the lock's takeover tokens too: pid-lock.ts). The
 * backup is untrusted: its symlink of such a name would have the marker written through it,
 * and what it put there a restore would take as its own and remove.
 */
export const isReservedName = (name: string) =>
  name === UNFINISHED || name === LOCK || name.startsWith(`${LOCK}.`) || isStagingName(name);

const kindOf = (st: Stats) => (st.isSymbolicLink() ? 'a symlink' : st.isDirectory() ? 'a directory' : 'not a file');

/** At `path`, something that is not a regular file (`what`: our marker or lock): refused, never followed. */
export async function checkOurs(path: string, what: string): Promise<boolean> {
  const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (st && !st.isFile())
    throw new UsageError(
      `${path}: ${kindOf(st)}, not the ${what} of a restore (a name restores keep for their own use): ` +
        'remove it, or restore into another directory',
    );
  return st !== undefined;
}

/** Neither follows a symlink put there since it was checked, nor waits on a fifo. */
const MARKER_FLAGS = fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;

/**
 * The marker's text, undefined when there is none. One that cannot be read, or that does not
 * say in full what it restored (empty or cut short: a crash as it was written), is taken as a
 * merge's (prepareDest): a merge never takes DEST's own objects along, a resume may.
 */
export async function readMarker(dest: string): Promise<string | undefined> {
  const path = join(dest, UNFINISHED);
  if (!(await checkOurs(path, 'marker'))) return undefined;
  const fh = await open(path, fsConstants.O_RDONLY | MARKER_FLAGS).catch(() => undefined);
  try {
    const text = await fh?.readFile('utf8');
    const cutShort = text === '' || (text?.startsWith(RESTORING) && !isWhole(text));
    return text === undefined || cutShort ? MERGING : text;
  } catch {
    return MERGING;
  } finally {
    await fh?.close();
  }
}

/** A RESTORING marker as restoringText wrote it: its fields there, its last line ended. */
const isWhole = (text: string) =>
  text.endsWith('\n') && ['host', 'time', 'sets'].every((f) => text.includes(`\n${f}: `));

export async function writeMarker(dest: string, text: string): Promise<void> {
  const path = join(dest, UNFINISHED);
  const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | MARKER_FLAGS;
  const fh = await open(path, flags, 0o644).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ELOOP') throw err;
    throw new DeaddropError(`${path}: a symlink, not the marker of a restore: not written through`, undefined, {
      cause: err,
    });
  });
  try {
    await fh.writeFile(text);
    await fh.sync(); // before DEST holds anything it marks: never an empty marker after a power cut
  } finally {
    await fh.close();
  }
}

/** The marker goes (unlink: a symlink itself, were one there). */
export async function removeMarker(dest: string): Promise<void> {
  await unlink(join(dest, UNFINISHED)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/**
 * Resume: DEST holds part of what the restore that marked it was restoring. Patched in place
 * by another (another --time, --host, --path), it would hold a mix of both states: refused.
 */
export function checkSameRestore(dest: string, marker: string, restoring: string): void {
  if (marker === restoring) return;
  const was = restoringWhat(marker);
  const paths = was.paths.map((p) => ` --path ${JSON.stringify(p)}`).join('');
  throw new UsageError(
    `${dest} holds part of a restore of ${was.host} as of ${was.time}${paths} that did not finish ` +
      `(marked by ${join(dest, UNFINISHED)}), not the restore asked for: --force would mix the two states; ` +
      `run that same restore again (--host ${was.host} --time ${was.time}${paths} --force) to finish it, ` +
      'or restore into an empty directory',
  );
}
