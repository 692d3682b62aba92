import { MAX_DEPTH, MAX_PATH_LENGTH, isSafeSegment, isValidHostName } from './names.js';

/** Where a request URL points, decided before any file system access. */
export type RequestTarget =
  | { kind: 'outside' } // not under the prefix: 404
  | { kind: 'bad'; reason: string } // malformed or unsafe: 400
  | { kind: 'root' } // the prefix itself: nobody may list it
  | {
      kind: 'host';
      host: string;
      /** Segments below the host directory (empty for the host directory itself). */
      segments: string[];
      /** The URL ended in '/' (a collection). */
      trailingSlash: boolean;
    };

/**
 * Map a raw request-target onto the sink layout. The path is split on literal '/' first and each
 * segment is percent-decoded exactly once, so an encoded slash, backslash or NUL can never become
 * a separator; '.', '..', empty segments and names outside the safe set are refused outright
 * instead of being normalised (a client that sends them is not one of ours).
 */
export function parseRequestTarget(rawUrl: string, prefix: string): RequestTarget {
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  if (!path.startsWith(prefix)) return { kind: 'outside' };
  const rest = path.slice(prefix.length);
  if (rest === '') return { kind: 'root' };
  if (rest.length > MAX_PATH_LENGTH) return { kind: 'bad', reason: 'path too long' };
  const trailingSlash = rest.endsWith('/');
  const raw = (trailingSlash ? rest.slice(0, -1) : rest).split('/');
  if (raw.length > MAX_DEPTH + 1) return { kind: 'bad', reason: 'path too deep' };
  const segments: string[] = [];
  for (const r of raw) {
    let s: string;
    try {
      s = decodeURIComponent(r);
    } catch {
      return { kind: 'bad', reason: 'bad percent-encoding' };
    }
    if (!isSafeSegment(s)) return { kind: 'bad', reason: `refused path segment ${JSON.stringify(s)}` };
    segments.push(s);
  }
  const host = segments.shift()!;
  if (!isValidHostName(host)) return { kind: 'bad', reason: `refused host name ${JSON.stringify(host)}` };
  return { kind: 'host', host, segments, trailingSlash };
}

/** The URL path of a sink entry, each segment percent-encoded (for PROPFIND hrefs). */
export function hrefFor(prefix: string, host: string, segments: string[], collection: boolean): string {
  const parts = [host, ...segments].map((s) => encodeURIComponent(s));
  return prefix + parts.join('/') + (collection ? '/' : '');
}
