/** Rules for OPNsense and OpenWrt hosts: newest file of each kind, its age, its `.sha256` companion. */
import { formatTimestamp } from '@deaddrop/common/units';
import {
  parseSinkName,
  SNOWFLAKE_KINDS,
  type SnowflakeFileName,
  type SnowflakeKind,
} from '@deaddrop/client/format/names';
import type { HostContext } from './linux.js';
import { DAY, days, problem, symlinkProblem, type HostKind, type Problem, type SnowflakeStatus } from './report.js';
import { isBackupExtra } from './extras.js';
import { MAX_COMPANION_BYTES, readCapped, TooLargeError } from './read.js';
import { isTempName, mayBeUploading } from './scan.js';
import { sizeProblem } from './size.js';
import { StrayFiles } from './strays.js';
import { checkFile } from './verify.js';

/** Kinds a host must have, and how old the newest of each group may be. */
function freshnessRules(kind: HostKind, ctx: HostContext): { kinds: SnowflakeKind[]; maxAge: number; label: string }[] {
  const t = ctx.thresholds;
  if (kind === 'opnsense')
    return [
      { kinds: ['zroot-full', 'zroot-inc'], maxAge: t.maxAge, label: 'zroot' },
      { kinds: ['zroot-full'], maxAge: t.maxFullAge, label: 'zroot-full' },
      { kinds: ['conf-full'], maxAge: t.maxAge, label: 'conf-full' },
    ];
  const sysupgrade = { kinds: ['sysupgrade-full' as const], maxAge: t.maxAge, label: 'sysupgrade-full' };
  // a host without MTD flash ("off") dumps none
  if (t.mtdEvery === null) return [sysupgrade];
  // the flash dump has its own cadence; a day of slack for the cron run
  return [sysupgrade, { kinds: ['mtd-full'], maxAge: Math.max(t.maxAge, t.mtdEvery + 86400), label: 'mtd-full' }];
}

/** A host known only from htpasswd: its files say what it is. */
export function guessSnowflakeKind(names: string[]): HostKind | undefined {
  for (const n of names) {
    const p = parseSinkName(n);
    if (p?.type !== 'snowflake') continue;
    return p.kind.startsWith('zroot') || p.kind === 'conf-full' ? 'opnsense' : 'openwrt';
  }
  return undefined;
}

/** A companion holds `<hex>` or sha256sum's `<hex>  NAME` (`<hex> *NAME` in binary mode). */
function parseCompanion(text: string): { hex: string; name?: string } | undefined {
  const m = /^([0-9a-fA-F]{64})(?:$|[ \t]+\*?(.*))/.exec(text.trim().split('\n')[0]!);
  if (!m) return undefined;
  const name = m[2]?.trim();
  return { hex: m[1]!.toLowerCase(), ...(name ? { name } : {}) };
}

/**
 * The zfs chains on this sink, linked like duplicity's inc.T1.to.T2: each zroot-full starts one;
 * a linked `zroot-inc.T0.to.T` after it must start at the T of that full or of an earlier
 * zroot-inc of its chain whose data file is here. The first that does not is a gap: it and every
 * later incremental of that chain do not restore from this sink (an older chain's gap matters to
 * a restore of a time within it). A gap at a zroot-inc whose data file is `lost` (its .sha256
 * is here) is already reported as missing-file, saying so. Old-style `zroot-inc.T` names carry
 * no base: taken as linked. `data` is sorted by time.
 */
function zrootChainProblems(data: SnowflakeFileName[], lost: Set<number>): Problem[] {
  const out: Problem[] = [];
  let chain: { full: SnowflakeFileName; present: Set<number>; broken: boolean } | undefined;
  for (const d of data) {
    if (d.kind === 'zroot-full') chain = { full: d, present: new Set([d.time]), broken: false };
    if (d.kind !== 'zroot-inc' || !chain || chain.broken) continue;
    if (d.startTime !== undefined && !chain.present.has(d.startTime)) {
      chain.broken = true;
      if (lost.has(d.startTime)) continue;
      const t0 = formatTimestamp(d.startTime);
      const message =
        `${d.name}: its base, the zroot-full or zroot-inc of ${t0}, is not on this sink (after ${chain.full.name}): ` +
        `it and every later zroot-inc of that chain do not restore from here`;
      out.push(problem('broken-chain', message, { file: d.name }));
      continue;
    }
    chain.present.add(d.time);
  }
  return out;
}

export async function checkSnowflakeHost(
  ctx: HostContext,
  kind: 'opnsense' | 'openwrt',
): Promise<{ problems: Problem[]; snowflakes: SnowflakeStatus[] }> {
  const problems: Problem[] = [];
  const byName = new Map(ctx.files.map((f) => [f.name, f]));
  const data: SnowflakeFileName[] = [];
  const companions = new Set<string>();
  const strays = new StrayFiles();

  for (const f of ctx.files) {
    if (f.symlink) {
      problems.push(symlinkProblem(f.name));
      continue;
    }
    const p = f.irregular ? undefined : parseSinkName(f.name);
    if (p?.type === 'snowflake') {
      if (p.companion) companions.add(p.dataName);
      else data.push(p);
    } else if (!f.irregular && isTempName(f.name)) {
      if (!mayBeUploading(f.mtime, ctx.now, ctx.grace))
        strays.add('temp-leftover', f.name, () => `${f.name}: temp file of an aborted upload`);
    } else if (!(p?.type === 'ignored' && isBackupExtra(f.name)))
      strays.add('unknown-file', f.name, () => `${f.name}: not a backup file`);
  }
  problems.push(...strays.problems());
  // the companion is uploaded after its file: one without it is a backup lost from the sink
  // (for a zroot-inc, every later one of its chain goes with it), not a stray
  const lost = new Set<number>(); // zroot-incs so lost: a gap they leave in the chain is this problem
  for (const c of companions) {
    if (byName.has(c)) continue;
    const p = parseSinkName(c);
    const inc = p?.type === 'snowflake' && p.kind === 'zroot-inc';
    if (inc) lost.add(p.time);
    const later = inc ? ': it and every later zroot-inc of its chain do not restore from here' : '';
    problems.push(problem('missing-file', `${c}: missing, its ${c}.sha256 is there${later}`, { file: c }));
  }
  data.sort((a, b) => a.time - b.time);

  const shaState = new Map<string, SnowflakeStatus['sha256']>();
  for (const d of data) {
    const f = byName.get(d.name)!;
    const young = mayBeUploading(f.mtime, ctx.now, ctx.grace);
    const companion = `${d.name}.sha256`;
    let expected: string | undefined;
    if (!companions.has(d.name)) {
      if (!young) problems.push(problem('missing-sha256', `${d.name}: no ${companion}`, { file: d.name }));
    } else {
      // a file can go or turn unreadable between the listing and the read: a problem, not a crash
      const text = await readCapped(byName.get(companion)!.path, companion, MAX_COMPANION_BYTES).catch((err: Error) => {
        if (err instanceof TooLargeError) problems.push(problem('bad-sums', err.message, { file: companion }));
        else problems.push(problem('unreadable', `${companion}: ${err.message}`, { file: companion }));
        return undefined;
      });
      const parsed = text === undefined ? undefined : parseCompanion(text);
      if (text !== undefined && !parsed)
        problems.push(problem('bad-sums', `${companion}: no SHA-256 in it`, { file: companion }));
      // `sha256sum -c` on the sink checks the file it names: it must be this one
      else if (parsed?.name !== undefined && parsed.name !== d.name)
        problems.push(problem('bad-sums', `${companion}: names ${parsed.name}, not ${d.name}`, { file: companion }));
      else expected = parsed?.hex;
    }
    let c;
    try {
      const label = `${ctx.host}/${d.name}`;
      c = await checkFile(f.path, { deep: ctx.deep, mayBeBer: true, mustBeBer: true, label, progress: ctx.progress });
    } catch (err) {
      problems.push(problem('unreadable', `${d.name}: ${(err as Error).message}`, { file: d.name }));
      shaState.set(d.name, companions.has(d.name) ? 'present' : 'missing');
      continue;
    }
    if (c.framing === 'truncated')
      problems.push(problem('truncated', `${d.name}: cut short (${f.size} bytes)`, { file: d.name }));
    else if (c.framing === 'trailing')
      problems.push(problem('trailing-data', `${d.name}: bytes after the end of the CMS message`, { file: d.name }));
    else if (c.framing === 'invalid')
      problems.push(problem('bad-framing', `${d.name}: not a well-formed CMS message`, { file: d.name }));
    // the hash is compared whatever the framing says: `ok` only for a file whose hash matched
    const compared = expected !== undefined && c.sha256 !== undefined;
    if (compared && c.sha256 !== expected)
      problems.push(problem('checksum-mismatch', `${d.name}: SHA-256 differs from ${companion}`, { file: d.name }));
    shaState.set(
      d.name,
      !companions.has(d.name) ? 'missing' : !compared ? 'present' : c.sha256 === expected ? 'ok' : 'mismatch',
    );
  }

  problems.push(...zrootChainProblems(data, lost));

  // a file dated more than a day ahead is reported and counts for neither freshness nor status
  const current: SnowflakeFileName[] = [];
  for (const d of data) {
    if (d.time > ctx.now + DAY)
      problems.push(
        problem('future-time', `${d.name}: dated ${formatTimestamp(d.time)}, in the future`, { file: d.name }),
      );
    else current.push(d);
  }

  // Freshness counts backups only: a data file without its .sha256 (an upload cut short, a
  // producer that failed) must not hide a stale kind; it is reported as missing-sha256 above.
  for (const rule of freshnessRules(kind, ctx)) {
    const newest = current.filter((d) => rule.kinds.includes(d.kind) && companions.has(d.name)).at(-1);
    if (!newest) {
      problems.push(problem('missing-snowflake', `no ${rule.kinds.join(' or ')} file with its .sha256`));
      continue;
    }
    const age = ctx.now - newest.time;
    if (age > rule.maxAge)
      problems.push(
        problem(
          'stale-snowflake',
          `newest ${rule.label} with its .sha256, ${formatTimestamp(newest.time)}, is ${days(age)} days old (limit ${days(rule.maxAge)})`,
          {
            file: newest.name,
          },
        ),
      );
  }

  const snowflakes: SnowflakeStatus[] = [];
  for (const k of SNOWFLAKE_KINDS.filter((kind) => current.some((d) => d.kind === kind))) {
    const ofKind = current.filter((d) => d.kind === k);
    const newest = ofKind.at(-1)!;
    const size = byName.get(newest.name)!.size;
    const p = sizeProblem(
      size,
      ofKind.slice(0, -1).map((d) => byName.get(d.name)!.size),
      ctx.thresholds.sizeBounds,
      newest.name,
    );
    if (p) problems.push({ ...p, file: newest.name });
    snowflakes.push({
      kind: k,
      file: newest.name,
      time: newest.time,
      ageDays: days(ctx.now - newest.time),
      bytes: size,
      sha256: shaState.get(newest.name) ?? 'present',
    });
  }
  return { problems, snowflakes };
}
