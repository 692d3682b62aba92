/**
 * The --path arguments of restore and verify. A path is relative to the backup root (the sets'
 * Localdir: `etc/nginx` in a backup of `/`), or absolute on the backed-up host (`/etc/nginx`):
 * an admin rebuilding a host thinks in that host's paths, and the root is the common ancestor
 * of the sources, which may be `/srv` as well as `/`. An absolute path is checked for its form
 * at once, and mapped to the root once the sets' manifests are read (rootedPaths).
 */
import { UsageError } from '@deaddrop/common/errors';
import { bytesToIndex, isPrefixIndex, type PathIndex } from '../scan/path-index.js';
import { iso } from './catalog.js';
import type { LoadedSet } from './load-set.js';
import { bytesOfShown, showBytes } from './show-bytes.js';

export interface PathArgument {
  /** As given on the command line. */
  given: string;
  /** Given from `/`: relative to the backed-up host's root, not the backup's. */
  absolute: boolean;
  /** Its components, from the root it is relative to. */
  index: PathIndex;
}

/** A --path as given: `./a/b/` → [a, b] relative; `/a/b` → [a, b] absolute. Throws for `.` or `..` parts. */
export function parsePathArgument(given: string): PathArgument {
  const absolute = given.startsWith('/');
  const clean = given
    .replace(/^\/+/, '')
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '');
  // names are shown with \xNN for bytes that are not UTF-8 (show-bytes.ts): taken back here
  const index = bytesToIndex(bytesOfShown(clean));
  if (index.some((c) => c.length === 0 || c.toString() === '..' || c.toString() === '.'))
    throw new UsageError(
      `--path ${given}: a path without . or .. parts, relative to the backup root or absolute under it`,
    );
  return { given, absolute, index };
}

/**
 * The paths relative to the backup root of `loaded` (the sets about to be restored): an absolute
 * one loses the root's components. Throws, naming the path and the root, for one outside the
 * root or when the sets do not name one root.
 */
export function rootedPaths(args: PathArgument[], loaded: LoadedSet[]): PathIndex[] {
  const firstAbsolute = args.find((a) => a.absolute);
  if (!firstAbsolute) return args.map((a) => a.index);
  const root = backupRoot(loaded, firstAbsolute.given);
  const rootIndex = bytesToIndex(root.subarray(leadingSlashes(root)));
  const shownRoot = showBytes(root);
  return args.map((a) => {
    if (!a.absolute) return a.index;
    if (!isPrefixIndex(rootIndex, a.index))
      throw new UsageError(
        `--path ${a.given}: not under ${shownRoot}, the backup root of the sets at that time ` +
          `(give a path under it, or relative to it)`,
      );
    return a.index.slice(rootIndex.length);
  });
}

/** The Localdir every set names (trailing slashes aside), or a usage error for `given`. */
function backupRoot(loaded: LoadedSet[], given: string): Buffer {
  const r = setsRoot(loaded);
  if ('root' in r) return r.root;
  throw new UsageError(`--path ${given}: ${r.problem}: give the path relative to the backup root`);
}

/**
 * The one absolute backup root that the sets name (their manifests' Localdir, trailing slashes
 * aside), or why there is none.
 */
export function setsRoot(loaded: LoadedSet[]): { root: Buffer } | { problem: string } {
  const roots = new Map<string, Buffer>();
  for (const l of loaded) {
    const dir = l.manifest.localdir;
    if (dir === undefined || dir[0] !== 0x2f)
      return {
        problem: `the set of ${iso(l.set.time)} does not name an absolute backup root (its manifest's Localdir)`,
      };
    const trimmed = trimTrailingSlashes(dir);
    roots.set(trimmed.toString('latin1'), trimmed);
  }
  if (roots.size > 1)
    return {
      problem: `the sets at that time were made of different roots (${[...roots.values()].map(showBytes).join(', ')})`,
    };
  return { root: [...roots.values()][0]! };
}

function leadingSlashes(b: Buffer): number {
  let n = 0;
  while (n < b.length && b[n] === 0x2f) n++;
  return n;
}

/** `/srv/` → `/srv`; `/` stays. */
function trimTrailingSlashes(b: Buffer): Buffer {
  let end = b.length;
  while (end > 1 && b[end - 1] === 0x2f) end--;
  return b.subarray(0, end);
}
