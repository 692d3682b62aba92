import { z } from 'zod';
import { parseDuration, parseSize } from '../units.js';

/** A size such as "200MB" or a number of bytes, validated to bytes. */
export const sizeField = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseSize(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^size: /, '') });
    return z.NEVER;
  }
});

/** A duration such as "30d", validated to seconds. */
export const durationField = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^duration: /, '') });
    return z.NEVER;
  }
});

/** A sink URL: http(s) WebDAV or file:// (a mounted sink). */
export const sinkUrlField = z.string().refine((u) => {
  try {
    const p = new URL(u).protocol;
    return p === 'http:' || p === 'https:' || p === 'file:';
  } catch {
    return false;
  }
}, 'must be an http://, https:// or file:// URL');

/**
 * A host's name is its directory on the sinks and its Basic-auth user there: what the sinks
 * accept (sink/src/names.ts, the nginx location regex), 1-63 characters.
 */
export const hostNameField = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be a host name: 1-63 letters, digits, ".", "-", "_"')
  .refine((n) => !n.includes('..'), 'must be a host name: no ".."');
