/**
 * What a backup includes: the source roots (absolute directories) under one backup root
 * (their deepest common ancestor, the `Localdir` of the manifest), minus excludes, minus the
 * kernel's virtual trees. Paths are compared as bytes: the walk's paths are raw bytes, the
 * config's are UTF-8, so both are matched in one form (each byte one latin1 character).
 */
import { posix } from 'node:path';
import { UsageError } from '@deaddrop/common/errors';

/** Never backed up, whatever the sources say (SPEC §5). */
export const ALWAYS_EXCLUDED = ['/proc', '/sys', '/dev', '/run'];

export interface Selection {
  /** The backup root, canonical absolute path (no trailing slash except "/"). */
  root: string;
  /**
   * Canonical source roots, each equal to or below root, sorted. A root inside another is kept:
   * with one file system per root, it is how a mount point listed on its own gets entered.
   */
  sources: string[];
  /** True when `path` (absolute, raw bytes) is excluded, with its subtree. */
  excluded(path: Buffer): boolean;
  /** How `path` (absolute, raw bytes) relates to the sources: inside one, or above one (on the way to it). */
  relation(path: Buffer): { inside: boolean; above: boolean };
  /** The deepest source holding `path` (a source inside another is a root of its own), as bytes. */
  deepestSource(path: Buffer): Buffer | undefined;
}

/** Duplicity's canonical form: "." segments and trailing "/" removed (no symlink resolution). */
export function canonicalPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

const SLASH = 0x2f;

/** `path` is `dir` or below it, in whole components (/x/ab is not within /x/a); both raw bytes. */
function isWithin(path: Buffer, dir: Buffer): boolean {
  if (path.length < dir.length || !path.subarray(0, dir.length).equals(dir)) return false;
  return path.length === dir.length || path[dir.length] === SLASH || (dir.length === 1 && dir[0] === SLASH);
}

function isUnder(path: string, dir: string): boolean {
  return dir === '/' ? path.startsWith('/') : path === dir || path.startsWith(dir + '/');
}

/** A config string in the form paths are matched in: its UTF-8 bytes, one latin1 character each. */
function asBytes(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** One UTF-8 character other than "/" (a lead byte and its continuation bytes, or a stray byte). */
const ONE_CHARACTER = '(?:[\\x00-\\x2e\\x30-\\x7f]|[\\xc0-\\xff][\\x80-\\xbf]*|[\\x80-\\xbf])';

/**
 * A glob (`*` within a component, `**` across, `?` one character) as an anchored regex over
 * a path's bytes (see asBytes).
 */
function globRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += ONE_CHARACTER;
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}(/.*)?$`, 's');
}

/**
 * Build the selection. `exclude` entries are absolute paths (the path and everything below
 * it) or globs with `*`, `**`, `?`; `alsoExclude` adds paths such as the archive directory.
 */
export function makeSelection(sources: string[], exclude: string[], alsoExclude: string[] = []): Selection {
  if (sources.length === 0) throw new UsageError('sources: at least one source directory is needed');
  const canon = sources.map((s, i) => {
    if (!s.startsWith('/')) throw new UsageError(`sources[${i}]: "${s}" must be an absolute path`);
    return canonicalPath(s);
  });
  const roots = [...new Set(canon)];
  let root = roots[0]!;
  for (const s of roots.slice(1)) while (!isUnder(s, root)) root = posix.dirname(root);
  const prefixes: string[] = [...ALWAYS_EXCLUDED, ...alsoExclude.map(canonicalPath)].map(asBytes);
  const globs: RegExp[] = [];
  exclude.forEach((e, i) => {
    // client.json's schema refuses these already, naming the file
    if (!e.startsWith('/')) throw new UsageError(`exclude[${i}]: "${e}" must be an absolute path or glob`);
    if (/[*?]/.test(e)) globs.push(globRegex(asBytes(canonicalPath(e))));
    else prefixes.push(asBytes(canonicalPath(e)));
  });
  const excluded = (bytes: string) => prefixes.some((p) => isUnder(bytes, p)) || globs.some((g) => g.test(bytes));
  const sorted = roots.sort();
  const sourceBytes = sorted.map((s) => Buffer.from(s));
  return {
    root,
    sources: sorted,
    excluded: (path) => excluded(path.toString('latin1')),
    relation: (path) => {
      let above = false;
      for (const s of sourceBytes) {
        if (isWithin(path, s)) return { inside: true, above };
        if (s.length > path.length && isWithin(s, path)) above = true;
      }
      return { inside: false, above };
    },
    deepestSource: (path) => {
      let deepest: Buffer | undefined;
      for (const s of sourceBytes) if (isWithin(path, s) && (!deepest || s.length > deepest.length)) deepest = s;
      return deepest;
    },
  };
}
