import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { DEFAULT_CLIENT_CONFIG } from '@deaddrop/common/config/paths';
import { ExitCode } from '@deaddrop/common/errors';
import { printResult } from '@deaddrop/common/output';
import { formatBytes } from '@deaddrop/common/units';
import { readLedger } from '../transport/ledger.js';
import { lagOf, laggingSets } from '../transport/spool.js';

interface Args {
  config: string;
}

const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

export interface StatusReport {
  host: string;
  archiveDir: string;
  /** state.json: none yet, ok, or damaged/unreadable (stateProblem says why; exit 1). */
  state: 'none' | 'ok' | 'damaged' | 'unreadable';
  stateProblem?: string;
  /** The chain's backup root (its manifests' Localdir): the common ancestor of the sources. */
  localdir?: string;
  chain: {
    type: 'full' | 'inc';
    time: string;
    startTime?: string;
    volumes: number;
    storedBytes: number;
    cached: boolean;
  }[];
  chainStoredBytes: number;
  /** Sets written but not yet on every sink, with their outgoing bytes. */
  pending: { set: string; files: number; bytes: number }[];
  /** Per configured sink (from its ledger): sets confirmed, when last, and the sets it still lacks. */
  /** `lagging` names the sets a sink lacks; `lagCount` counts them, old dropped ones no longer named too. */
  sinks: { name: string; confirmed: number; lastConfirmed?: string; lagging: string[]; lagCount: number }[];
  lastRuns: { started: string; finished: string; result: string; set?: string; storedBytes?: number; error?: string }[];
}

async function dirSize(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    if (n.startsWith('.')) continue; // (what left the spool: sent-everywhere.ts)
    const st = await stat(join(dir, n)).catch(() => undefined);
    if (st?.isFile()) {
      files++;
      bytes += st.size;
    }
  }
  return { files, bytes };
}

export async function statusReport(archiveDir: string, host: string, sinkNames: string[]): Promise<StatusReport> {
  // loaded here: the state's schema brings zod (~8 MiB of RSS), which restore, list and verify,
  // registered in the same module, do not need
  const { loadState } = await import('./state.js');
  const read = await loadState(archiveDir);
  const state = read.status === 'ok' ? read.state : undefined;
  const chain = [];
  for (const s of state?.chain ?? []) {
    const cached =
      !!(await stat(join(archiveDir, 'cache', s.manifest)).catch(() => undefined)) &&
      !!(await stat(join(archiveDir, 'cache', s.signatures)).catch(() => undefined));
    chain.push({
      type: s.type,
      time: iso(s.time),
      ...(s.startTime !== undefined ? { startTime: iso(s.startTime) } : {}),
      volumes: s.volumes,
      storedBytes: s.storedBytes,
      cached,
    });
  }
  const pending = [];
  for (const key of state?.pending ?? [])
    pending.push({ set: key, ...(await dirSize(join(archiveDir, 'outgoing', key))) });
  // the sinks of client.json: ledgers of sinks no longer configured are history
  const sinks = [];
  for (const name of sinkNames) {
    const l = await readLedger(archiveDir, name);
    sinks.push({
      name: l.sink,
      confirmed: l.confirmed.length,
      ...(l.lastConfirmed ? { lastConfirmed: l.lastConfirmed } : {}),
      lagging: laggingSets(l, state?.pending ?? []),
      lagCount: lagOf(l, state?.pending ?? []).count,
    });
  }
  return {
    host,
    archiveDir,
    state: read.status,
    ...('problem' in read ? { stateProblem: read.problem } : {}),
    ...(state?.localdir ? { localdir: state.localdir } : {}),
    chain,
    chainStoredBytes: chain.reduce((n, s) => n + s.storedBytes, 0),
    pending,
    sinks,
    lastRuns: (state?.runs ?? []).slice(-10).reverse(),
  };
}

export const statusCommand = {
  command: 'status',
  describe: 'Show the local backup chain, the last runs and sets waiting for delivery',
  builder: (y) =>
    y
      .option('config', { type: 'string', default: DEFAULT_CLIENT_CONFIG, describe: 'Client configuration file' })
      .epilog(
        'Reads only the local archive directory (the client never reads from a sink).\n' +
          'Exit codes: 0 ok, 1 the state file is damaged or unreadable (the next backup starts a new chain), ' +
          '2 configuration error.',
      ),
  handler: handler<Args>(async (argv) => {
    const { loadClientConfig } = await import('@deaddrop/common/config/client');
    const config = loadClientConfig(argv.config);
    const r = await statusReport(
      config.archiveDir,
      config.host,
      config.sinks.map((k) => k.name),
    );
    printResult(argv.json, r, (s) => {
      const lines = [`host ${s.host}, archive ${s.archiveDir}${s.localdir ? `, backup root ${s.localdir}` : ''}`];
      if (s.stateProblem)
        lines.push(
          `state: ${s.stateProblem} ` +
            (s.state === 'damaged'
              ? '(the next backup starts a new chain: a full)'
              : '(a backup that cannot read it either starts a new chain)'),
        );
      else if (s.chain.length === 0) lines.push('chain: none (the next backup is a full one)');
      else {
        lines.push(`chain: ${s.chain.length} set(s), ${formatBytes(s.chainStoredBytes)} stored per sink`);
        for (const c of s.chain)
          lines.push(
            `  ${c.type.padEnd(4)} ${c.time}  ${String(c.volumes).padStart(3)} vol  ${formatBytes(c.storedBytes)}` +
              (c.cached ? '' : '  (cache missing: next run is full)'),
          );
      }
      for (const k of s.sinks) {
        const unnamed = k.lagCount - k.lagging.length;
        const lacks = k.lagCount
          ? `lacks ${[...k.lagging, ...(unnamed > 0 ? [`${unnamed} older dropped sets`] : [])].join(', ')}`
          : undefined;
        const what = k.confirmed === 0 ? ['nothing delivered yet', ...(lacks ? [lacks] : [])].join(', ') : lacks;
        lines.push(
          `sink ${k.name}: ${what ?? 'up to date'}` + (k.lastConfirmed ? ` (last confirmed ${k.lastConfirmed})` : ''),
        );
      }
      for (const p of s.pending) lines.push(`pending delivery: ${p.set} (${p.files} files, ${formatBytes(p.bytes)})`);
      for (const run of s.lastRuns.slice(0, 5))
        lines.push(
          `run ${run.started} ${run.result}${run.set ? ` ${run.set}` : ''}` +
            (run.storedBytes !== undefined ? ` ${formatBytes(run.storedBytes)}` : '') +
            (run.error ? `: ${run.error}` : ''),
        );
      return lines;
    });
    return r.stateProblem ? ExitCode.FAILED : ExitCode.OK;
  }),
} as DeaddropCommand;
