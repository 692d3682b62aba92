/**
 * The schema of the client's state.json (client/src/backup/state.ts, docs/FORMAT.md). It is
 * here, with the config schemas, because zod is common's dependency. Names it gives to files
 * (cache files, outgoing set directories) must be plain names: they are joined to paths that
 * the client reads and removes.
 */
import { z } from 'zod';

const fileName = z
  .string()
  .regex(/^[^/\0]+$/, 'must be a file name')
  .refine((n) => n !== '.' && n !== '..', 'must be a file name');
const seconds = z.number().int().nonnegative();
const count = z.number().int().nonnegative();

export const chainSetSchema = z.object({
  type: z.enum(['full', 'inc']),
  time: seconds,
  startTime: seconds.optional(),
  manifest: fileName,
  signatures: fileName,
  /** SHA-1 of the cached signatures file as written (absent in states of older versions). */
  signaturesSha1: z
    .string()
    .regex(/^[0-9a-f]{40}$/, 'must be 40 hex digits')
    .optional(),
  volumes: count,
  storedBytes: count,
});

export const runRecordSchema = z.object({
  started: z.string(),
  finished: z.string(),
  result: z.enum(['ok', 'degraded', 'failed']),
  set: z.string().optional(),
  type: z.enum(['full', 'inc']).optional(),
  storedBytes: count.optional(),
  problems: count.optional(),
  error: z.string().optional(),
});

export const backupStateSchema = z.object({
  version: z.literal(1, 'must be 1 (a state of another version of deaddrop)'),
  host: z.string(),
  localdir: z.string(),
  configHost: z.string().optional(),
  sinkUrls: z.array(z.string()).optional(),
  chain: z.array(chainSetSchema),
  pending: z.array(fileName).default([]),
  runs: z.array(runRecordSchema).default([]),
});
