/**
 * Every file name found in a host's directory on a sink: duplicity set files (ours under `.p7m`,
 * legacy under `.gpg`/`.gz`/plain, long and short forms), deaddrop sums files, snowflake files
 * and their `.sha256` companions, and names that are known but carry no backup (par2, jsonstat).
 * Times are epoch seconds; names stay strings (they are ASCII).
 */
import { formatTimestamp, MAX_TIMESTAMP, parseTimestamp } from '@deaddrop/common/units';

/** The outer layers of a stored duplicity file, detected from its name's suffix. */
export type Suffix = '' | '.gz' | '.p7m' | '.gz.p7m' | '.gpg';

/** How a stored file is wrapped: 'gpg' is OpenPGP or gpgsm CMS (legacy); telling them apart is the reader's job. */
export type Encryption = 'none' | 'cms' | 'gpg';

export type SetType = 'full' | 'inc';

/** The identity of a backup set: a full at `time`, or an incremental from `startTime` to `time`. */
export interface SetId {
  set: SetType;
  /** Full: the backup time. Incremental: the end time (this session's time). */
  time: number;
  /** Incremental only: the start time (the chain's end before this session). */
  startTime?: number;
}

export interface DuplicityFileName extends SetId {
  type: 'duplicity';
  /** The name as found. */
  name: string;
  file: 'volume' | 'manifest' | 'signatures';
  /** Volume number (1-based), volumes only. */
  volume?: number;
  /** `.part` (long) or `.p` (short) was present: a local, unfinished file. */
  partial: boolean;
  /** Written with --short-filenames. */
  short: boolean;
  /** The layer suffix as written (short names map `.z` to '.gz' and `.g` to '.gpg'). */
  suffix: Suffix;
  gzip: boolean;
  encryption: Encryption;
}

export interface SumsFileName extends SetId {
  type: 'sums';
  name: string;
}

export const SNOWFLAKE_KINDS = ['zroot-full', 'zroot-inc', 'conf-full', 'sysupgrade-full', 'mtd-full'] as const;
export type SnowflakeKind = (typeof SNOWFLAKE_KINDS)[number];

/** The data extension each snowflake kind is stored with (before `.p7m`). */
export const SNOWFLAKE_EXTENSIONS: Record<SnowflakeKind, string> = {
  'zroot-full': 'zfs',
  'zroot-inc': 'zfs',
  'conf-full': 'tar',
  'sysupgrade-full': 'tar.gz',
  'mtd-full': 'img',
};

export interface SnowflakeFileName {
  type: 'snowflake';
  name: string;
  kind: SnowflakeKind;
  time: number;
  /**
   * A linked `zroot-inc.T0.to.T` incremental: T0, the time of the stream its base came from
   * (a zroot-full or an earlier zroot-inc). Absent for other kinds and old-style `zroot-inc.T`.
   */
  startTime?: number;
  /** This is the `NAME.sha256` companion of `dataName`. */
  companion: boolean;
  /** The data file's name (equals `name` unless this is a companion). */
  dataName: string;
}

/** Known names that hold no backup data: par2 recovery files, duplicity 3.x jsonstat files. */
export interface IgnoredFileName {
  type: 'ignored';
  name: string;
  reason: 'par2' | 'jsonstat';
}

export type SinkFileName = DuplicityFileName | SumsFileName | SnowflakeFileName | IgnoredFileName;

const T = '(\\d{8}T\\d{6}Z)';
const LONG_SUFFIX = '(\\.gz\\.p7m|\\.p7m|\\.gpg|\\.gz)?';
const LONG_PATTERNS: { re: RegExp; set: SetType; file: DuplicityFileName['file'] }[] = [
  {
    re: new RegExp(`^duplicity-full\\.${T}\\.vol(\\d+)\\.difftar(\\.part)?${LONG_SUFFIX}$`),
    set: 'full',
    file: 'volume',
  },
  { re: new RegExp(`^duplicity-full\\.${T}\\.manifest(\\.part)?${LONG_SUFFIX}$`), set: 'full', file: 'manifest' },
  {
    re: new RegExp(`^duplicity-inc\\.${T}\\.to\\.${T}\\.vol(\\d+)\\.difftar(\\.part)?${LONG_SUFFIX}$`),
    set: 'inc',
    file: 'volume',
  },
  {
    re: new RegExp(`^duplicity-inc\\.${T}\\.to\\.${T}\\.manifest(\\.part)?${LONG_SUFFIX}$`),
    set: 'inc',
    file: 'manifest',
  },
  {
    re: new RegExp(`^duplicity-full-signatures\\.${T}\\.sigtar(\\.part)?${LONG_SUFFIX}$`),
    set: 'full',
    file: 'signatures',
  },
  {
    re: new RegExp(`^duplicity-new-signatures\\.${T}\\.to\\.${T}\\.sigtar(\\.part)?${LONG_SUFFIX}$`),
    set: 'inc',
    file: 'signatures',
  },
];

// Short names (§2.5): base-36 times and volume numbers, `.p` partial, `.z` gzip / `.g` encrypted.
const B36 = '([0-9a-z]+)';
const SHORT_SUFFIX = '(\\.z|\\.g)?';
const SHORT_PATTERNS: { re: RegExp; set: SetType; file: DuplicityFileName['file'] }[] = [
  { re: new RegExp(`^df\\.${B36}\\.${B36}\\.dt(\\.p)?${SHORT_SUFFIX}$`), set: 'full', file: 'volume' },
  { re: new RegExp(`^df\\.${B36}\\.m(\\.p)?${SHORT_SUFFIX}$`), set: 'full', file: 'manifest' },
  { re: new RegExp(`^di\\.${B36}\\.${B36}\\.${B36}\\.dt(\\.p)?${SHORT_SUFFIX}$`), set: 'inc', file: 'volume' },
  { re: new RegExp(`^di\\.${B36}\\.${B36}\\.m(\\.p)?${SHORT_SUFFIX}$`), set: 'inc', file: 'manifest' },
  { re: new RegExp(`^dfs\\.${B36}\\.st(\\.p)?${SHORT_SUFFIX}$`), set: 'full', file: 'signatures' },
  { re: new RegExp(`^dns\\.${B36}\\.${B36}\\.st(\\.p)?${SHORT_SUFFIX}$`), set: 'inc', file: 'signatures' },
];

const SUMS_FULL = new RegExp(`^deaddrop-full\\.${T}\\.sha256sums$`);
const SUMS_INC = new RegExp(`^deaddrop-inc\\.${T}\\.to\\.${T}\\.sha256sums$`);
const SNOWFLAKE = new RegExp(`^(${SNOWFLAKE_KINDS.join('|')})\\.${T}\\.(zfs|tar|tar\\.gz|img)\\.p7m(\\.sha256)?$`);
const SNOWFLAKE_LINKED = new RegExp(`^(zroot-inc)\\.${T}\\.to\\.${T}\\.(zfs)\\.p7m(\\.sha256)?$`);
const JSONSTAT = /^(duplicity-(full|inc)\..*\.jsonstat|d[fi]st\..*\.jst)(\.[a-z0-9.]+)?$/;

function layerOf(suffix: Suffix): { gzip: boolean; encryption: Encryption } {
  return {
    gzip: suffix === '.gz' || suffix === '.gz.p7m',
    encryption: suffix.endsWith('.p7m') ? 'cms' : suffix === '.gpg' ? 'gpg' : 'none',
  };
}

function parseBase36(text: string): number | undefined {
  const n = parseInt(text, 36);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** A short name's time: base 36, and no later than a time string can hold (a crafted `zzzzzzzzzz`). */
function parseBase36Time(text: string): number | undefined {
  const t = parseBase36(text);
  return t !== undefined && t <= MAX_TIMESTAMP ? t : undefined;
}

/** The parsed parts of a long or short name, as one DuplicityFileName (an inc's time is its end). */
function fileName(
  name: string,
  p: { set: SetType; file: DuplicityFileName['file'] },
  f: { t1: number; t2?: number; volume?: number; partial: boolean; short: boolean; suffix: Suffix },
): DuplicityFileName {
  return {
    type: 'duplicity',
    name,
    set: p.set,
    file: p.file,
    ...(p.set === 'inc' ? { time: f.t2!, startTime: f.t1 } : { time: f.t1 }),
    ...(f.volume !== undefined ? { volume: f.volume } : {}),
    partial: f.partial,
    short: f.short,
    suffix: f.suffix,
    ...layerOf(f.suffix),
  };
}

/** Parse a duplicity set file name (long or short form); undefined when it is not one. */
export function parseDuplicityName(name: string): DuplicityFileName | undefined {
  for (const p of LONG_PATTERNS) {
    const m = p.re.exec(name);
    if (!m) continue;
    const groups = m.slice(1);
    const t1 = parseTimestamp(groups.shift()!);
    const t2 = p.set === 'inc' ? parseTimestamp(groups.shift()!) : undefined;
    const volume = p.file === 'volume' ? Number(groups.shift()) : undefined;
    const partial = groups.shift() !== undefined;
    const suffix = (groups.shift() ?? '') as Suffix;
    if (t1 === undefined || (p.set === 'inc' && t2 === undefined)) return undefined;
    if (volume !== undefined && !(Number.isSafeInteger(volume) && volume >= 1)) return undefined;
    return fileName(name, p, { t1, t2, volume, partial, short: false, suffix });
  }
  for (const p of SHORT_PATTERNS) {
    const m = p.re.exec(name);
    if (!m) continue;
    const groups = m.slice(1);
    const t1 = parseBase36Time(groups.shift()!);
    const t2 = p.set === 'inc' ? parseBase36Time(groups.shift()!) : undefined;
    const volume = p.file === 'volume' ? parseBase36(groups.shift()!) : undefined;
    const partial = groups.shift() !== undefined;
    const short = groups.shift();
    const suffix: Suffix = short === '.z' ? '.gz' : short === '.g' ? '.gpg' : '';
    if (t1 === undefined || (p.set === 'inc' && t2 === undefined)) return undefined;
    if (p.file === 'volume' && volume === undefined) return undefined;
    return fileName(name, p, { t1, t2, volume, partial, short: true, suffix });
  }
  return undefined;
}

/**
 * A `file://` sink's temp file: each upload is written under this prefix plus 12 hex digits,
 * then linked to its final name. A killed run leaves one behind (the client removes its own
 * after an hour; the checker reports it as a temp leftover).
 */
export const FILE_SINK_TEMP_PREFIX = '.deaddrop-upload-';

/** Parse any name a host directory on a sink may hold; undefined for a foreign name. */
export function parseSinkName(name: string): SinkFileName | undefined {
  // par2 files parse as duplicates of the volume they protect (formats §2.8): filter first.
  if (name.endsWith('.par2')) return { type: 'ignored', name, reason: 'par2' };
  if (JSONSTAT.test(name)) return { type: 'ignored', name, reason: 'jsonstat' };
  const dup = parseDuplicityName(name);
  if (dup) return dup;
  let m = SUMS_FULL.exec(name);
  if (m) {
    const time = parseTimestamp(m[1]!);
    return time === undefined ? undefined : { type: 'sums', name, set: 'full', time };
  }
  m = SUMS_INC.exec(name);
  if (m) {
    const startTime = parseTimestamp(m[1]!);
    const time = parseTimestamp(m[2]!);
    if (startTime === undefined || time === undefined) return undefined;
    return { type: 'sums', name, set: 'inc', time, startTime };
  }
  m = SNOWFLAKE_LINKED.exec(name);
  if (m) {
    const startTime = parseTimestamp(m[2]!);
    const time = parseTimestamp(m[3]!);
    if (startTime === undefined || time === undefined) return undefined;
    const companion = m[5] !== undefined;
    return {
      type: 'snowflake',
      name,
      kind: 'zroot-inc',
      time,
      startTime,
      companion,
      dataName: companion ? name.slice(0, -'.sha256'.length) : name,
    };
  }
  m = SNOWFLAKE.exec(name);
  if (m) {
    const kind = m[1] as SnowflakeKind;
    const time = parseTimestamp(m[2]!);
    if (time === undefined || SNOWFLAKE_EXTENSIONS[kind] !== m[3]) return undefined;
    const companion = m[4] !== undefined;
    return {
      type: 'snowflake',
      name,
      kind,
      time,
      companion,
      dataName: companion ? name.slice(0, -'.sha256'.length) : name,
    };
  }
  return undefined;
}

// ---- builders: plain duplicity names; storedName() adds the outer layers ----

const ts = formatTimestamp;

export function fullVolumeName(time: number, volume: number): string {
  return `duplicity-full.${ts(time)}.vol${volume}.difftar`;
}
export function incVolumeName(startTime: number, endTime: number, volume: number): string {
  return `duplicity-inc.${ts(startTime)}.to.${ts(endTime)}.vol${volume}.difftar`;
}
export function fullManifestName(time: number): string {
  return `duplicity-full.${ts(time)}.manifest`;
}
export function incManifestName(startTime: number, endTime: number): string {
  return `duplicity-inc.${ts(startTime)}.to.${ts(endTime)}.manifest`;
}
export function fullSignaturesName(time: number): string {
  return `duplicity-full-signatures.${ts(time)}.sigtar`;
}
export function newSignaturesName(startTime: number, endTime: number): string {
  return `duplicity-new-signatures.${ts(startTime)}.to.${ts(endTime)}.sigtar`;
}

/** `deaddrop-full.T.sha256sums`, or `deaddrop-inc.T1.to.T2.sha256sums` when startTime is given. */
export function sumsFileName(time: number, startTime?: number): string {
  return startTime === undefined
    ? `deaddrop-full.${ts(time)}.sha256sums`
    : `deaddrop-inc.${ts(startTime)}.to.${ts(time)}.sha256sums`;
}
/** The sums file name of a set. */
export function sumsFileNameOf(id: SetId): string {
  return sumsFileName(id.time, id.set === 'inc' ? id.startTime : undefined);
}

/** `zroot-full.T.zfs.p7m` etc.; with startTime, a linked `zroot-inc.T0.to.T.zfs.p7m`. */
export function snowflakeName(kind: SnowflakeKind, time: number, startTime?: number): string {
  const times = startTime === undefined ? ts(time) : `${ts(startTime)}.to.${ts(time)}`;
  return `${kind}.${times}.${SNOWFLAKE_EXTENSIONS[kind]}.p7m`;
}
/** The `.sha256` companion of a stored file. */
export function companionName(dataName: string): string {
  return `${dataName}.sha256`;
}

/** Append the stored layers to a plain name: `.gz` then `.p7m`. */
export function storedName(plainName: string, layers: { gzip?: boolean; cms?: boolean }): string {
  return plainName + (layers.gzip ? '.gz' : '') + (layers.cms ? '.p7m' : '');
}

// ---- grouping into sets and chains (formats §3.1–3.2) ----

/** Key shared by every file of one set (volumes, manifest, signatures, sums): full: time; inc: start+end. */
export function setKey(id: SetId): string {
  return id.set === 'full' ? `full.${ts(id.time)}` : `inc.${ts(id.startTime!)}.to.${ts(id.time)}`;
}

export interface BackupSet extends SetId {
  key: string;
  /** Volume files by number. */
  volumes: Map<number, DuplicityFileName>;
  manifest?: DuplicityFileName;
  signatures?: DuplicityFileName;
  sums?: SumsFileName;
  /** Files of this set seen twice under different layers (e.g. `.gpg` and `.p7m`), or partial names. */
  extras: DuplicityFileName[];
}

/** Group set files (duplicity names and sums files) by set; other names are ignored. Sorted by time. */
export function groupSets(names: Iterable<SinkFileName>): BackupSet[] {
  const sets = new Map<string, BackupSet>();
  for (const n of names) {
    if (n.type !== 'duplicity' && n.type !== 'sums') continue;
    const key = setKey(n);
    let s = sets.get(key);
    if (!s) {
      s = { key, set: n.set, time: n.time, volumes: new Map(), extras: [] };
      if (n.set === 'inc') s.startTime = n.startTime;
      sets.set(key, s);
    }
    if (n.type === 'sums') s.sums = n;
    else if (n.partial) s.extras.push(n);
    else if (n.file === 'volume') {
      if (s.volumes.has(n.volume!)) s.extras.push(n);
      else s.volumes.set(n.volume!, n);
    } else if (n.file === 'manifest') {
      if (s.manifest) s.extras.push(n);
      else s.manifest = n;
    } else if (s.signatures) s.extras.push(n);
    else s.signatures = n;
  }
  return [...sets.values()].sort((a, b) => a.time - b.time || (a.set === 'full' ? -1 : 1));
}

export interface BackupChain {
  full: BackupSet;
  incs: BackupSet[];
  /** Time of the last set in the chain. */
  endTime: number;
}

/**
 * Link sets into chains the way duplicity does: each full starts a chain; an incremental joins
 * the first chain whose end time equals its start time exactly (or replaces that chain's last
 * incremental when both start at the same time and it ends later). The rest are orphans.
 * `usable` decides which sets take part (duplicity: those with a manifest).
 */
export function linkChains(
  sets: BackupSet[],
  usable: (s: BackupSet) => boolean = (s) => s.manifest !== undefined,
): { chains: BackupChain[]; orphans: BackupSet[] } {
  const chains: BackupChain[] = [];
  const orphans: BackupSet[] = [];
  const ordered = sets.filter(usable).sort((a, b) => a.time - b.time);
  for (const s of ordered) {
    if (s.set === 'full') {
      chains.push({ full: s, incs: [], endTime: s.time });
      continue;
    }
    const chain = chains.find((c) => c.endTime === s.startTime);
    if (chain) {
      chain.incs.push(s);
      chain.endTime = s.time;
      continue;
    }
    const replaced = chains.find((c) => {
      const last = c.incs[c.incs.length - 1];
      return last !== undefined && last.startTime === s.startTime && last.time < s.time;
    });
    if (replaced) {
      orphans.push(replaced.incs.pop()!);
      replaced.incs.push(s);
      replaced.endTime = s.time;
    } else orphans.push(s);
  }
  chains.sort((a, b) => a.endTime - b.endTime);
  return { chains, orphans };
}
