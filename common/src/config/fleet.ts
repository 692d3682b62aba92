import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { hostNameField, sinkUrlField, unitDurationField } from './fields.js';
import { ConfigError } from '../errors.js';
import { loadJsonConfig } from './load.js';

export const fleetSinkSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a short name'),
  /** Base URL; a host's URL is url + host name + "/". */
  url: sinkUrlField,
  ssh: z.string().optional(),
  root: z.string().optional(),
  htpasswd: z.string().optional(),
  ca: z.string().optional(),
});

/** Fractions of the median: a set the size of the median must be within them. */
const sizeBounds = z.strictObject({ min: z.number().positive(), max: z.number().positive() }).superRefine((b, ctx) => {
  // otherwise every set is out of bounds, whatever its size
  if (b.min > 1 || b.max < 1)
    ctx.addIssue({ code: 'custom', message: `min ${b.min}, max ${b.max}: need min <= 1 <= max (e.g. 0.5 and 3)` });
});

export const fleetHostSchema = z.strictObject({
  name: hostNameField,
  kind: z.enum(['linux', 'opnsense', 'openwrt']),
  ssh: z.string().optional(),
  sources: z.array(z.string()).optional(),
  exclude: z.array(z.string()).optional(),
  /** OPNsense: the ZFS pool/dataset to snapshot. */
  dataset: z.string().optional(),
  /** OpenWrt: how often to dump the MTD flash; "off" (null) for a host without MTD flash. */
  mtdEvery: z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      if (v === 'off') return null;
      // (not a z.union with 'off': its "Invalid input" would hide the duration's message)
      const r = unitDurationField.safeParse(v);
      if (r.success) return r.data;
      ctx.addIssue({ code: 'custom', message: `${r.error.issues[0]!.message}, or "off" for no flash dumps` });
      return z.NEVER;
    })
    .optional(),
  /** Checker thresholds (SPEC §6). */
  maxFullAge: unitDurationField.optional(),
  maxIncrementalAge: unitDurationField.optional(),
  maxAge: unitDurationField.optional(),
  /** Size sanity, as fractions of the median of earlier sets: { min: 0.5, max: 3 }. */
  sizeBounds: sizeBounds.optional(),
});

export const fleetConfigSchema = z.strictObject({
  recipients: z.array(z.string()).min(1),
  sinks: z.array(fleetSinkSchema).min(1),
  hosts: z.array(fleetHostSchema).superRefine((hosts, ctx) => {
    // one name, one entry: the check would take the last entry, snowflakes generate the first
    const first = new Map<string, number>();
    hosts.forEach((h, i) => {
      const j = first.get(h.name);
      if (j === undefined) first.set(h.name, i);
      else ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${h.name}" is already hosts[${j}]` });
    });
  }),
  /** Checker defaults for every host (a host entry overrides them). */
  defaults: z
    .strictObject({
      maxFullAge: unitDurationField.optional(),
      maxIncrementalAge: unitDurationField.optional(),
      maxAge: unitDurationField.optional(),
      sizeBounds: sizeBounds.optional(),
    })
    .optional(),
});

export type FleetConfig = z.output<typeof fleetConfigSchema>;
export type FleetHost = z.output<typeof fleetHostSchema>;
export type FleetSink = z.output<typeof fleetSinkSchema>;

/** Load a fleet file; recipient paths are resolved relative to the file's directory. */
export function loadFleetConfig(file: string): FleetConfig {
  const fleet = loadJsonConfig(file, fleetConfigSchema);
  const base = dirname(resolve(file));
  return { ...fleet, recipients: fleet.recipients.map((r) => resolve(base, r)) };
}

export function findFleetHost(fleet: FleetConfig, name: string, file: string): FleetHost {
  const host = fleet.hosts.find((h) => h.name === name);
  if (!host) throw new ConfigError(file, 'hosts', `no host named "${name}"`);
  return host;
}

/** A sink's per-host URL: its url + host name + "/". */
export function hostUrl(sink: FleetSink, host: string): string {
  return sink.url.replace(/\/?$/, '/') + encodeURIComponent(host) + '/';
}
