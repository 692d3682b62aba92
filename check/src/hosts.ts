/** Who should be on the sink, and with which limits: the fleet file, or the sink's htpasswd users. */
import { readFileSync } from 'node:fs';
import { ConfigError, loadFleetConfig, type FleetHost } from '@deaddrop/common';
import type { HostKind } from './report.js';

export interface Thresholds {
  /** Seconds. */
  maxFullAge: number;
  maxIncrementalAge: number;
  /** Snowflake files. */
  maxAge: number;
  /** OpenWrt MTD dump cadence; its file may be this old plus a day. null: "off", none expected. */
  mtdEvery: number | null;
  /** Fractions of the median of earlier sets of the same kind. */
  sizeBounds: { min: number; max: number };
}

/** SPEC §6 defaults. */
export const DEFAULT_THRESHOLDS: Thresholds = {
  maxFullAge: 37 * 86400,
  maxIncrementalAge: 3 * 86400,
  maxAge: 7 * 86400,
  mtdEvery: 7 * 86400,
  sizeBounds: { min: 0.5, max: 3 },
};

export interface EnrolledHost {
  name: string;
  /** 'unknown' when only the htpasswd says the host exists: guessed from its files. */
  kind: HostKind;
  thresholds: Thresholds;
}

type Overrides = Partial<Pick<FleetHost, 'maxFullAge' | 'maxIncrementalAge' | 'maxAge' | 'sizeBounds' | 'mtdEvery'>>;

function merge(base: Thresholds, o: Overrides | undefined): Thresholds {
  return {
    maxFullAge: o?.maxFullAge ?? base.maxFullAge,
    maxIncrementalAge: o?.maxIncrementalAge ?? base.maxIncrementalAge,
    maxAge: o?.maxAge ?? base.maxAge,
    // (null is "off", not "unset")
    mtdEvery: o?.mtdEvery !== undefined ? o.mtdEvery : base.mtdEvery,
    sizeBounds: o?.sizeBounds ?? base.sizeBounds,
  };
}

export function hostsFromFleet(file: string): EnrolledHost[] {
  const fleet = loadFleetConfig(file);
  const defaults = merge(DEFAULT_THRESHOLDS, fleet.defaults);
  return fleet.hosts.map((h) => ({ name: h.name, kind: h.kind, thresholds: merge(defaults, h) }));
}

/** The user names of an Apache htpasswd file (`user:hash` lines); the hashes are not our business. */
export function hostsFromHtpasswd(file: string): EnrolledHost[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, undefined, `cannot read: ${(err as Error).message}`);
  }
  const hosts: EnrolledHost[] = [];
  text.split('\n').forEach((line, i) => {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) return;
    const colon = l.indexOf(':');
    if (colon <= 0) throw new ConfigError(file, `line ${i + 1}`, 'expected user:hash');
    hosts.push({ name: l.slice(0, colon), kind: 'unknown', thresholds: DEFAULT_THRESHOLDS });
  });
  return hosts;
}
