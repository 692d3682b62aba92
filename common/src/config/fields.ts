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

/** Seconds from "30d" (or a number of seconds), or a zod issue saying why not. */
function seconds(v: string | number, ctx: z.RefinementCtx): number {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^duration: /, '') });
    return z.NEVER;
  }
}

/** A duration such as "30d", validated to seconds. */
export const durationField = z.union([z.string(), z.number()]).transform(seconds);

/**
 * A checker threshold or cadence ("37d"): a string with its unit only. The docs give these in
 * days, and a bare 37 read as seconds would make every backup stale.
 */
export const unitDurationField = z.union([z.string(), z.number()]).transform((v, ctx) => {
  if (typeof v !== 'number') return seconds(v, ctx);
  ctx.addIssue({ code: 'custom', message: `${v} has no unit: write it as "${v}d" (or s, m, h, w)` });
  return z.NEVER;
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
