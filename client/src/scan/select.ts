/**
 * What a backup includes: the source roots (absolute directories) under one backup root
 * (their deepest common ancestor, the `Localdir` of the manifest), minus excludes, minus the
 * kernel's virtual trees. Paths are compared as bytes.
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
  /** True when `path` (absolute) is excluded, with its subtree. */
  excluded(path: string): boolean;
}

/** Duplicity's canonical form: "." segments and trailing "/" removed (no symlink resolution). */
export function canonicalPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function isUnder(path: string, dir: string): boolean {
  return dir === '/' ? path.startsWith('/') : path === dir || path.startsWith(dir + '/');
}

/** A glob (`*` within a component, `**` across, `?` one character) as an anchored regex. */
function globRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
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
  const prefixes: string[] = [...ALWAYS_EXCLUDED, ...alsoExclude.map(canonicalPath)];
  const globs: RegExp[] = [];
  exclude.forEach((e, i) => {
    if (!e.startsWith('/')) throw new UsageError(`exclude[${i}]: "${e}" must be an absolute path or glob`);
    if (/[*?]/.test(e)) globs.push(globRegex(canonicalPath(e)));
    else prefixes.push(canonicalPath(e));
  });
  return {
    root,
    sources: roots.sort(),
    excluded: (path) => prefixes.some((p) => isUnder(path, p)) || globs.some((g) => g.test(path)),
  };
}
