/** The check: list the root, apply the rules per enrolled host, flag strays; returns the report. */
import { join } from 'node:path';
import { describeError } from '@deaddrop/common/errors';
import type { EnrolledHost } from './hosts.js';
import { checkLinuxHost, type HostContext } from './linux.js';
import {
  hostStatus,
  problem,
  summarize,
  type CheckReport,
  type HostKind,
  type HostReport,
  type Problem,
} from './report.js';
import { mayBeUploading, scanRoot, SINK_TEMP_DIR, tempFileHost, type SinkFile } from './scan.js';
import { checkSnowflakeHost, guessSnowflakeKind } from './snowflake.js';
import { StrayFiles } from './strays.js';
import { Progress } from './verify.js';

export interface CheckOptions {
  root: string;
  hosts: EnrolledHost[];
  /** Epoch seconds the ages are measured from. */
  now: number;
  deep: boolean;
  /** Files younger than this (seconds) may still be uploading: not yet a problem. Default 1 h. */
  grace?: number;
}

function emptyReport(host: string, kind: HostKind, enrolled: boolean, files: SinkFile[]): HostReport {
  return {
    host,
    kind,
    enrolled,
    status: 'ok',
    bytes: files.reduce((n, f) => n + f.size, 0),
    files: files.length,
    lastFull: null,
    lastIncremental: null,
    fullAgeDays: null,
    incrementalAgeDays: null,
    sets: 0,
    completeSets: 0,
    chainLength: 0,
    newestSetComplete: null,
    snowflakes: [],
    problems: [],
  };
}

export async function checkRoot(opts: CheckOptions): Promise<CheckReport> {
  const grace = opts.grace ?? 3600;
  const listing = await scanRoot(opts.root);
  const enrolled = new Map(opts.hosts.map((h) => [h.name, h]));
  const total = opts.deep
    ? [...listing.hostDirs]
        .filter(([h]) => enrolled.has(h))
        .reduce((n, [, fs]) => n + fs.reduce((m, f) => m + f.size, 0), 0)
    : 0;
  const progress = new Progress(total);
  const reports = new Map<string, HostReport>();

  for (const h of opts.hosts) {
    const files = listing.hostDirs.get(h.name);
    if (!files) {
      const r = emptyReport(h.name, h.kind, true, []);
      const where = join(opts.root, h.name);
      r.problems.push(
        listing.rootError
          ? problem('unreadable', `${h.name}: not checked: ${listing.rootError}`)
          : listing.rootSymlinks.includes(h.name)
            ? rootSymlinkProblem(opts.root, h.name)
            : listing.rootFiles.includes(h.name)
              ? problem('missing-host', `${h.name}: enrolled but ${where} is a file, not a directory`)
              : problem('missing-host', `${h.name}: enrolled but no directory ${where}`),
      );
      reports.set(h.name, r);
      continue;
    }
    if (listing.unreadableDirs.has(h.name)) {
      reports.set(h.name, emptyReport(h.name, h.kind, true, files));
      continue;
    }
    const kind: HostKind = h.kind !== 'unknown' ? h.kind : (guessSnowflakeKind(files.map((f) => f.name)) ?? 'linux');
    const ctx: HostContext = {
      host: h.name,
      files,
      thresholds: h.thresholds,
      now: opts.now,
      deep: opts.deep,
      grace,
      progress,
    };
    let r: HostReport;
    try {
      r = await checkHost(ctx, kind);
    } catch (err) {
      // whatever goes wrong with one host (a bug, a file that defeats a rule) is that host's
      // error: every other host is still checked, and the report still written and sent
      r = emptyReport(h.name, kind, true, files);
      r.problems.push(problem('check-failed', `the check of ${h.name} stopped: ${describeError(err)}`));
    }
    reports.set(h.name, r);
  }
  progress.end();

  for (const [name, files] of listing.hostDirs) {
    if (enrolled.has(name)) continue;
    const r = emptyReport(name, 'unknown', false, files);
    r.problems.push(
      problem('unknown-host', `${name}: directory of a host that is not enrolled (${files.length} files)`),
    );
    reports.set(name, r);
  }

  for (const name of listing.rootSymlinks) {
    if (enrolled.has(name)) continue;
    const r = emptyReport(name, 'unknown', false, []);
    r.problems.push(rootSymlinkProblem(opts.root, name));
    reports.set(name, r);
  }

  // nothing but host directories belongs in the root: a stray file is shown, under its name
  for (const name of listing.rootFiles) {
    if (enrolled.has(name)) continue;
    const r = emptyReport(name, 'unknown', false, []);
    r.problems.push(problem('unknown-file', `${join(opts.root, name)}: a file in the sink root, not a host directory`));
    reports.set(name, r);
  }

  // what could not be listed: the host's own problem, the check goes on
  for (const [name, errors] of listing.hostErrors) {
    const r = reports.get(name);
    if (r) for (const e of errors) r.problems.push(problem('unreadable', e));
  }
  if (listing.tempErrors.length) {
    let r = reports.get(SINK_TEMP_DIR);
    if (!r) {
      r = emptyReport(SINK_TEMP_DIR, 'unknown', false, []);
      reports.set(SINK_TEMP_DIR, r);
    }
    for (const e of listing.tempErrors) r.problems.push(problem('unreadable', e));
  }

  const tempLeftovers = new Map<string, StrayFiles>();
  for (const f of listing.tempFiles) {
    if (mayBeUploading(f.mtime, opts.now, grace)) continue;
    const owner = tempFileHost(f.name) ?? SINK_TEMP_DIR;
    let strays = tempLeftovers.get(owner);
    if (!strays) tempLeftovers.set(owner, (strays = new StrayFiles()));
    const file = `${SINK_TEMP_DIR}/${f.name}`;
    strays.add('temp-leftover', file, () => `${file}: temp file of an aborted upload`);
  }
  for (const [owner, strays] of tempLeftovers) {
    let r = reports.get(owner);
    if (!r) {
      r = emptyReport(owner, 'unknown', false, []);
      reports.set(owner, r);
    }
    r.problems.push(...strays.problems());
  }

  const hosts = [...reports.values()].sort((a, b) => a.host.localeCompare(b.host));
  for (const r of hosts) {
    r.problems = sortProblems(r.problems);
    r.status = hostStatus(r.problems);
  }
  const report = summarize(opts.root, opts.now, opts.deep ? 'deep' : 'quick', hosts);
  return listing.rootError ? { ...report, ok: false, error: listing.rootError } : report;
}

/** One enrolled host's directory, by its kind's rules. */
async function checkHost(ctx: HostContext, kind: HostKind): Promise<HostReport> {
  const r = emptyReport(ctx.host, kind, true, ctx.files);
  if (kind === 'opnsense' || kind === 'openwrt') {
    if (ctx.files.length === 0) r.problems.push(problem('no-backups', 'no backup files'));
    else {
      const s = await checkSnowflakeHost(ctx, kind);
      for (const p of s.problems) r.problems.push(p);
      r.snowflakes = s.snowflakes;
    }
  } else {
    const l = await checkLinuxHost(ctx);
    for (const p of l.problems) r.problems.push(p);
    Object.assign(r, {
      lastFull: l.lastFull,
      lastIncremental: l.lastIncremental,
      fullAgeDays: l.lastFull === null ? null : ageDays(ctx.now, l.lastFull),
      incrementalAgeDays: l.lastIncremental === null ? null : ageDays(ctx.now, l.lastIncremental),
      sets: l.sets,
      completeSets: l.completeSets,
      chainLength: l.chainLength,
      newestSetComplete: l.newestSetComplete,
    });
  }
  return r;
}

/** A host directory that is a symlink: the sinks would write wherever it points. */
function rootSymlinkProblem(root: string, name: string): Problem {
  return problem(
    'symlink',
    `${join(root, name)}: a symlink, not a host directory (uploads would follow it): remove it`,
  );
}

function ageDays(now: number, t: number): number {
  return Math.round(((now - t) / 86400) * 10) / 10;
}

function sortProblems(ps: Problem[]): Problem[] {
  return [...ps].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
}
