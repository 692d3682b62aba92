import { z } from 'zod';
import { durationField, hostNameField, sinkUrlField, sizeField } from './fields.js';
import { loadJsonConfig } from './load.js';
import { DEFAULT_CLIENT_CONFIG } from './paths.js';

export { DEFAULT_CLIENT_CONFIG };

/**
 * Every path in client.json is absolute: a relative one would be resolved against the working
 * directory, which is / under systemd and wherever the operator stands by hand.
 */
const absolutePath = z.string().startsWith('/', 'must be an absolute path');

export const clientSinkSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a short name (letters, digits, ".", "-", "_")'),
  url: sinkUrlField,
  /** PEM file of the CA that signed an https sink's certificate. */
  ca: absolutePath.optional(),
});

/** The same URL however it is spelled (case of the host, a missing final "/"). */
function sinkKey(url: string): string {
  try {
    const u = new URL(url);
    if (!u.pathname.endsWith('/')) u.pathname += '/';
    return u.href;
  } catch {
    return url;
  }
}

function uniqueSinks(sinks: { name: string; url: string }[], ctx: z.RefinementCtx): void {
  for (const [i, s] of sinks.entries()) {
    const j = sinks.findIndex((o) => o.name === s.name);
    if (j < i)
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${s.name}" is already the name of sinks[${j}]` });
    const k = sinks.findIndex((o) => sinkKey(o.url) === sinkKey(s.url));
    if (k < i) ctx.addIssue({ code: 'custom', path: [i, 'url'], message: `the same sink as sinks[${k}].url` });
  }
}

/**
 * A ping URL: http(s) only (fetch takes nothing else), and no user:password@ (fetch refuses
 * it): healthchecks-style services carry the secret in the path.
 */
const pingUrl = z.string().refine((u) => {
  try {
    const url = new URL(u);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password;
  } catch {
    return false;
  }
}, 'must be an http:// or https:// URL without user:password@');

/** /etc/deaddrop/client.json (SPEC §7). Unknown keys are errors. */
export const clientConfigSchema = z.strictObject({
  host: hostNameField,
  sources: z.array(absolutePath).min(1),
  /** Absolute paths or globs (client/src/scan/select.ts matches them). */
  exclude: z.array(z.string().startsWith('/', 'must be an absolute path or glob')).default([]),
  /** Recipient certificate files (PEM). */
  recipients: z.array(absolutePath).min(1),
  /** Unique names (ledgers, early uploads and results are keyed by them) and unique URLs. */
  sinks: z.array(clientSinkSchema).min(1).superRefine(uniqueSinks),
  netrc: absolutePath.default('/etc/deaddrop/netrc'),
  /** (A relative one could also land inside a source.) */
  archiveDir: absolutePath.default('/var/lib/deaddrop'),
  volumeSize: sizeField.default(200 * 2 ** 20),
  fullEvery: durationField.default(30 * 86400),
  spoolLimit: sizeField.default(2e9),
  metricsFile: absolutePath.optional(),
  /** Stay on the filesystem of each source root (like duplicity's default). */
  oneFileSystem: z.boolean().default(true),
  /** healthchecks.io-style URLs pinged at start, success and failure. */
  pings: z
    .strictObject({
      start: pingUrl.optional(),
      success: pingUrl.optional(),
      fail: pingUrl.optional(),
    })
    .optional(),
});

export type ClientConfig = z.output<typeof clientConfigSchema>;
export type ClientSinkConfig = z.output<typeof clientSinkSchema>;

export function loadClientConfig(file: string = DEFAULT_CLIENT_CONFIG): ClientConfig {
  return loadJsonConfig(file, clientConfigSchema);
}
