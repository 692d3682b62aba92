/**
 * Rules for a Linux host's directory: sets and chains from names, completeness, the sums file
 * (presence, and SHA-256 in --deep), framing of every CMS file, freshness, size sanity.
 */
import { formatTimestamp, hashFile } from '@deaddrop/common';
import {
  fullManifestName,
  fullSignaturesName,
  fullVolumeName,
  groupSets,
  incManifestName,
  incVolumeName,
  newSignaturesName,
  parseSinkName,
  setKey,
  sumsFileNameOf,
  type BackupSet,
  type DuplicityFileName,
  type SinkFileName,
} from '@deaddrop/client/format/names';
import type { VolumeHash } from '@deaddrop/client/format/manifest';
import { parseSums } from '@deaddrop/client/format/sums';
import type { Thresholds } from './hosts.js';
import { absentListed } from './absent.js';
import { linkWithBreaks } from './chain.js';
import { isBackupExtra } from './extras.js';
import { readCapped, MAX_LISTING_BYTES, TooLargeError } from './read.js';
import { DAY, days, problem, symlinkProblem, type Problem } from './report.js';
import { isTempName, mayBeUploading, type SinkFile } from './scan.js';
import { sizeProblem } from './size.js';
import { StrayFiles } from './strays.js';
import { checkFile, type Progress } from './verify.js';

export interface HostContext {
  host: string;
  files: SinkFile[];
  thresholds: Thresholds;
  now: number;
  deep: boolean;
  /** Files younger than this (seconds) may be an upload in progress. */
  grace: number;
  progress?: Progress;
}

export interface LinuxResult {
  problems: Problem[];
  lastFull: number | null;
  lastIncremental: number | null;
  sets: number;
  completeSets: number;
  chainLength: number;
  newestSetComplete: boolean | null;
}

const MISSING_CODE = {
  volume: 'missing-volume',
  manifest: 'missing-manifest',
  signatures: 'missing-signatures',
} as const;

function setFiles(s: BackupSet): DuplicityFileName[] {
  return [...s.volumes.values(), ...(s.manifest ? [s.manifest] : []), ...(s.signatures ? [s.signatures] : [])];
}

/** What a set file's name says it holds, for a bad-framing message. */
function formatOf(f: DuplicityFileName): string {
  if (f.encryption === 'cms') return 'CMS message';
  if (f.encryption === 'gpg') return 'gpgsm (CMS) or OpenPGP file';
  return f.gzip ? 'gzip file' : 'file';
}

/** A set written by deaddrop: CMS layers or a sums file. */
function isOurs(s: BackupSet): boolean {
  return s.sums !== undefined || setFiles(s).some((f) => f.encryption === 'cms');
}

/**
 * Volume numbers and hashes (SHA1, else MD5: duplicity's get_best_hash) from a plain
 * (unencrypted) legacy duplicity manifest. Tolerant on purpose, unlike parseManifest: the
 * volume list still counts when the rest of the manifest is odd.
 */
function manifestVolumes(text: string): Map<number, VolumeHash | undefined> {
  const vols = new Map<number, VolumeHash | undefined>();
  let current: number | undefined;
  for (const line of text.split('\n')) {
    const v = /^volume\s+(\d+):/i.exec(line);
    if (v) {
      current = Number(v[1]);
      vols.set(current, undefined);
      continue;
    }
    const h = /^\s+hash\s+(sha1\s+[0-9a-f]{40}|md5\s+[0-9a-f]{32})\s*$/i.exec(line);
    if (!h || current === undefined) continue;
    const [name, hex] = h[1]!.toLowerCase().split(/\s+/) as ['sha1' | 'md5', string];
    if (name === 'sha1' || vols.get(current) === undefined) vols.set(current, { algorithm: name, hex });
  }
  return vols;
}

export async function checkLinuxHost(ctx: HostContext): Promise<LinuxResult> {
  const problems: Problem[] = [];
  const byName = new Map(ctx.files.map((f) => [f.name, f]));
  const parsed: SinkFileName[] = [];

  const strayFiles = new StrayFiles();
  for (const f of ctx.files) {
    if (f.symlink) {
      problems.push(symlinkProblem(f.name));
      continue;
    }
    const p = f.irregular ? undefined : parseSinkName(f.name);
    if (p?.type === 'duplicity' && p.partial) {
      if (!mayBeUploading(f.mtime, ctx.now, ctx.grace))
        strayFiles.add('temp-leftover', f.name, () => `${f.name}: partial file left behind`);
    } else if (p && (p.type === 'duplicity' || p.type === 'sums')) parsed.push(p);
    else if (p?.type === 'ignored' && isBackupExtra(f.name)) continue;
    else if (!f.irregular && isTempName(f.name)) {
      if (!mayBeUploading(f.mtime, ctx.now, ctx.grace))
        strayFiles.add('temp-leftover', f.name, () => `${f.name}: temp file of an aborted upload`);
    } else strayFiles.add('unknown-file', f.name, () => `${f.name}: not a backup file`);
  }
  problems.push(...strayFiles.problems());

  const sets = groupSets(parsed);
  const setSizes = (s: BackupSet) =>
    [...setFiles(s), ...(s.sums ? [s.sums] : [])].reduce((n, f) => n + byName.get(f.name)!.size, 0);
  const complete = new Set<BackupSet>();
  for (const s of sets) if (await checkSet(ctx, s, byName, problems)) complete.add(s);

  // a set dated more than a day ahead (a wrong clock, a crafted name) is reported and left out
  // of chains and freshness: it must not hide a host that stopped backing up
  const dated: BackupSet[] = [];
  for (const s of sets) {
    if (s.time > ctx.now + DAY)
      problems.push(
        problem('future-time', `${s.key}: dated ${formatTimestamp(s.time)}, in the future`, { set: s.key }),
      );
    else dated.push(s);
  }
  const { chains, breaks, strays, reach } = linkWithBreaks(
    dated,
    (s) => s.manifest !== undefined || s.sums !== undefined,
  );
  for (const b of breaks) {
    const more = b.sets.length > 1 ? ` and the ${b.sets.length - 1} after it are` : ' is';
    problems.push(
      problem(
        'broken-chain',
        `${b.sets[0]!.key}: the chain of ${b.chain.full.key} has no set from ${formatTimestamp(b.from)} to ` +
          `${formatTimestamp(b.to)} (missing or aborted): this incremental${more} not restorable`,
        { set: b.sets[0]!.key },
      ),
    );
  }
  for (const s of strays)
    problems.push(problem('orphan-set', `${s.key}: incremental does not continue any chain`, { set: s.key }));
  // restorable: complete, and every set before it in its chain there
  const chained = new Set(chains.flatMap((c) => [c.full, ...c.incs]));

  const newest = chains[chains.length - 1];
  let lastFull: number | null = null;
  let lastIncremental: number | null = null;
  if (!newest) {
    problems.push(
      sets.length
        ? problem('no-complete-chain', 'no full backup set with a manifest: nothing restorable')
        : problem('no-backups', 'no backup sets'),
    );
  } else {
    // what was uploaded, past a break too (broken-chain says it is not restorable): the host
    // is backing up, and its freshness is measured from there
    const end = reach.get(newest)!;
    lastFull = newest.full.time;
    lastIncremental = end > newest.full.time ? end : null;
    const fullAge = ctx.now - newest.full.time;
    if (fullAge > ctx.thresholds.maxFullAge)
      problems.push(
        problem(
          'stale-full',
          `newest full ${formatTimestamp(newest.full.time)} is ${days(fullAge)} days old (limit ${days(ctx.thresholds.maxFullAge)})`,
          { set: newest.full.key },
        ),
      );
    const lastAge = ctx.now - end;
    if (lastAge > ctx.thresholds.maxIncrementalAge)
      problems.push(
        problem(
          'stale-incremental',
          `last backup ${formatTimestamp(end)} is ${days(lastAge)} days old (limit ${days(ctx.thresholds.maxIncrementalAge)})`,
          { set: (dated.find((s) => s.time === end && s.set === 'inc') ?? newest.full).key },
        ),
      );
  }

  // size sanity: the newest set of each type against the median of the earlier complete ones
  for (const type of ['full', 'inc'] as const) {
    const ofType = dated.filter((s) => s.set === type && complete.has(s));
    const latest = ofType[ofType.length - 1];
    if (!latest) continue;
    const p = sizeProblem(
      setSizes(latest),
      ofType.slice(0, -1).map(setSizes),
      ctx.thresholds.sizeBounds,
      `${latest.key}`,
    );
    if (p) problems.push({ ...p, set: latest.key });
  }

  const newestSet = dated.filter((s) => s.manifest || s.sums).at(-1);
  return {
    problems,
    lastFull,
    lastIncremental,
    sets: sets.length,
    completeSets: [...complete].filter((s) => chained.has(s)).length,
    chainLength: newest ? 1 + newest.incs.length : 0,
    newestSetComplete: newestSet ? complete.has(newestSet) && chained.has(newestSet) : null,
  };
}

/** Check one set; true when it is complete and intact. Problems go to `out`. */
async function checkSet(
  ctx: HostContext,
  s: BackupSet,
  byName: Map<string, SinkFile>,
  out: Problem[],
): Promise<boolean> {
  const before = out.length;
  const at = { set: s.key };
  const files = setFiles(s);
  let youngest = s.sums ? byName.get(s.sums.name)!.mtime : 0;
  for (const f of files) youngest = Math.max(youngest, byName.get(f.name)!.mtime);
  const inProgress = mayBeUploading(youngest, ctx.now, ctx.grace);
  const ours = isOurs(s);

  for (const extra of s.extras)
    out.push(
      problem('unknown-file', `${extra.name}: a second copy of a file of ${s.key}`, { file: extra.name, set: s.key }),
    );

  // a set without its commit marker (ours: sums file, uploaded last; legacy: manifest) was aborted
  const committed = ours ? s.sums !== undefined || s.manifest !== undefined : s.manifest !== undefined;
  if (!committed) {
    if (!inProgress)
      out.push(problem('incomplete-set', `${s.key}: aborted set (${files.length} files, no manifest)`, at));
    return false;
  }

  const missing = new Set<string>();
  const report = (file: string, kind: keyof typeof MISSING_CODE, what: string) => {
    if (missing.has(file)) return;
    missing.add(file);
    out.push(problem(MISSING_CODE[kind], `${s.key}: ${what}`, { file, set: s.key }));
  };

  // the sums file: every listed file present, and in --deep its SHA-256
  let listed = new Map<string, string>();
  if (s.sums) {
    const sums = s.sums.name;
    let parsedSums = false;
    try {
      const text = await readCapped(byName.get(sums)!.path, sums, MAX_LISTING_BYTES);
      listed = new Map(parseSums(text, sums).map((e) => [e.name, e.sha256]));
      parsedSums = true;
    } catch (err) {
      // malformed or too large is the file's fault; an I/O error is not (EACCES, gone)
      const code = (err as NodeJS.ErrnoException).code;
      if (code && !(err instanceof TooLargeError))
        out.push(problem('unreadable', `${sums}: ${(err as Error).message}`, { file: sums, set: s.key }));
      else out.push(problem('bad-sums', (err as Error).message, { file: sums, set: s.key }));
    }
    // an empty (or blank-only) sums file lists nothing: it vouches for no file of the set (one
    // problem says so, not one more per file)
    const empty = parsedSums && listed.size === 0;
    if (empty) {
      const what = `none of the set's ${files.length} file(s) is verified`;
      out.push(problem('bad-sums', `${sums}: no entries: ${what}`, { file: sums, set: s.key }));
    }
    // a volume of this set that is not stored is left to the ranges below
    const absent = [...listed.keys()].filter((name) => {
      if (byName.has(name)) return false;
      const p = parseSinkName(name);
      return !(p?.type === 'duplicity' && p.file === 'volume' && setKey(p) === s.key && !s.volumes.has(p.volume!));
    });
    for (const name of absent) missing.add(name);
    for (const p of absentListed(absent, sums)) out.push({ ...p, message: `${s.key}: ${p.message}`, set: s.key });
    for (const f of files)
      if (parsedSums && !empty && !listed.has(f.name))
        out.push(
          problem('unlisted-file', `${f.name} is not listed in ${sums}: its content is not verified`, {
            file: f.name,
            set: s.key,
          }),
        );
  } else if (ours && !inProgress) {
    out.push(problem('missing-sums', `${s.key}: no ${sumsFileNameOf(s)}`, { file: sumsFileNameOf(s), set: s.key }));
  }

  // legacy plain manifest: the volume list and hashes
  let legacyVolumes = new Map<number, VolumeHash | undefined>();
  const unreadable = new Set<string>();
  if (s.manifest && s.manifest.suffix === '' && !ours) {
    try {
      const name = s.manifest.name;
      legacyVolumes = manifestVolumes(await readCapped(byName.get(name)!.path, name, MAX_LISTING_BYTES, 'latin1'));
      // duplicity writes volume 1 even for an empty source: a manifest without any is not one
      if (legacyVolumes.size === 0)
        out.push(problem('bad-manifest', `${name}: lists no volumes`, { file: name, set: s.key }));
    } catch (err) {
      // the name rules still apply; the set is not restorable as it stands
      unreadable.add(s.manifest.name);
      const message = err instanceof TooLargeError ? err.message : `${s.manifest.name}: ${(err as Error).message}`;
      out.push(problem('unreadable', message, { file: s.manifest.name, set: s.key }));
    }
  }

  // volumes 1..N contiguous; N from the names, the sums file and a readable manifest. A crafted
  // name (vol3000000) must not cost one problem, or one loop turn, per missing number: gaps are
  // found between the known numbers and reported as ranges.
  const listedVolumes = new Map<number, string>();
  for (const name of listed.keys()) {
    const p = parseSinkName(name);
    if (p?.type === 'duplicity' && p.file === 'volume' && setKey(p) === s.key && !listedVolumes.has(p.volume!))
      listedVolumes.set(p.volume!, name);
  }
  let maxVolume = 1;
  for (const keys of [s.volumes.keys(), listedVolumes.keys(), legacyVolumes.keys()])
    for (const n of keys) if (n > maxVolume) maxVolume = n;
  // name it as its siblings are stored
  const suffix = [...s.volumes.values()][0]?.suffix ?? '';
  const volumeName = (n: number) =>
    listedVolumes.get(n) ??
    (s.set === 'full' ? fullVolumeName(s.time, n) : incVolumeName(s.startTime!, s.time, n)) + suffix;
  const stored = [...s.volumes.keys()].filter((n) => n >= 1).sort((a, b) => a - b);
  let expect = 1;
  for (const n of [...stored, maxVolume + 1]) {
    if (n > expect) {
      const last = n - 1;
      if (last === expect) report(volumeName(expect), 'volume', `volume ${expect} missing`);
      else report(volumeName(expect), 'volume', `volumes ${expect}-${last} missing`);
    }
    expect = Math.max(expect, n + 1);
  }
  // a listed manifest or signatures file already reported absent is not reported again
  const reported = new Set(out.slice(before).map((p) => p.code));
  if (!s.manifest && !reported.has('missing-manifest'))
    report(
      s.set === 'full' ? fullManifestName(s.time) : incManifestName(s.startTime!, s.time),
      'manifest',
      'no manifest',
    );
  if (!s.signatures && !reported.has('missing-signatures'))
    report(
      s.set === 'full' ? fullSignaturesName(s.time) : newSignaturesName(s.startTime!, s.time),
      'signatures',
      'no signatures file',
    );

  // per-file integrity
  const present = [...files, ...s.extras].filter((f) => byName.has(f.name));
  for (const f of present) {
    if (unreadable.has(f.name)) continue;
    const sf = byName.get(f.name)!;
    const expected = listed.get(f.name);
    const legacyHash = f.file === 'volume' ? legacyVolumes.get(f.volume!) : undefined;
    let c;
    try {
      c = await checkFile(sf.path, {
        deep: ctx.deep && (expected !== undefined || f.encryption !== 'none'),
        mayBeBer: f.encryption !== 'none',
        mustBeBer: f.encryption === 'cms',
        gzip: f.gzip && f.encryption === 'none' ? (ctx.deep ? 'full' : 'magic') : undefined,
        label: `${ctx.host}/${f.name}`,
        progress: ctx.progress,
      });
    } catch (err) {
      out.push(problem('unreadable', `${f.name}: ${(err as Error).message}`, { file: f.name, set: s.key }));
      continue;
    }
    if (c.framing === 'truncated')
      out.push(problem('truncated', `${f.name}: cut short (${sf.size} bytes)`, { file: f.name, set: s.key }));
    else if (c.framing === 'trailing')
      out.push(
        problem('trailing-data', `${f.name}: bytes after the end of the CMS message`, { file: f.name, set: s.key }),
      );
    else if (c.framing === 'invalid')
      out.push(problem('bad-framing', `${f.name}: not a well-formed ${formatOf(f)}`, { file: f.name, set: s.key }));
    else if (expected !== undefined && c.sha256 !== undefined && c.sha256 !== expected)
      out.push(
        problem('checksum-mismatch', `${f.name}: SHA-256 differs from ${s.sums!.name}`, { file: f.name, set: s.key }),
      );
    if (ctx.deep && legacyHash) {
      const { hex } = await hashFile(sf.path, { algorithm: legacyHash.algorithm });
      const label = legacyHash.algorithm.toUpperCase();
      if (hex !== legacyHash.hex)
        out.push(
          problem('checksum-mismatch', `${f.name}: ${label} differs from the manifest`, { file: f.name, set: s.key }),
        );
    }
  }
  return out.length === before;
}
