/**
 * Which names the sink accepts. One policy for host names (the Basic-auth user and the top
 * directory) and for every path segment below it, so nothing a client can address starts with a
 * dot: the temp directory `ROOT/.deaddrop-tmp` and any admin dot-files stay unreachable.
 */

/** A path segment: a safe ASCII set, no leading dot, at most 255 bytes. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._~+=,@-]{0,254}$/;
/** A host name: what DNS and htpasswd both accept (no ':' and no leading dot). */
const HOST = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Longest request path below the prefix, and deepest nesting, a client may use. */
export const MAX_PATH_LENGTH = 1024;
export const MAX_DEPTH = 16;

export function isSafeSegment(name: string): boolean {
  return SEGMENT.test(name) && name !== '.' && name !== '..';
}

export function isValidHostName(name: string): boolean {
  return HOST.test(name) && !name.includes('..');
}

/** Why a host name is refused, for a one-line error; undefined when it is fine. */
export function hostNameProblem(name: string): string | undefined {
  if (isValidHostName(name)) return undefined;
  return `host name "${name}" must be 1-63 characters of A-Z a-z 0-9 . _ - starting with a letter or digit`;
}
