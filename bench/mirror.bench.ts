// npm run bench -- mirror: `deaddrop backup --full` of the shared dataset (/work/shared/bench,
// SCALE env, default 1.0) to two WebDAV sinks (`deaddrop sink serve`, each its own process on
// 127.0.0.1) against the same backup to one local directory, in the same run, alternating.
// Target (issue 5): the two-sink wall time is at most 15% over the local one. REPEAT=n runs
// each n times (default 5: single runs vary by ±15% on a 2-core VM) and compares medians.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deaddropArgv, repoRoot, startEmbeddedSink, type RunningSink } from '@deaddrop/test';
import { measure, printTable, verdict, type Measurement } from './lib.js';

const SCALE = process.env.SCALE ?? '1.0';
const REPEAT = Number(process.env.REPEAT ?? 5);
const SHARED = process.env.DATASET_SCRIPTS ?? '/work/shared/bench';
const benchDir = process.env.BENCH_DIR ?? join(repoRoot, '.bench');
// The pristine dataset is shared with the backup bench (made once per scale); only read here.
const data = join(benchDir, 'backup', `data-${SCALE}`);
const root = join(benchDir, 'mirror');
const MiB = 1 << 20;
const TARGET = 0.15;
const PASSWORD = 'bench-sink-password';
const [node, ...cliArgs] = deaddropArgv();

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
}

function makeData(): void {
  const marker = join(benchDir, 'backup', `data-${SCALE}.complete`);
  if (!existsSync(marker)) {
    mkdirSync(join(benchDir, 'backup'), { recursive: true });
    rmSync(data, { recursive: true, force: true });
    sh(join(SHARED, 'make-dataset.sh'), [data, SCALE]);
    writeFileSync(marker, '');
  }
  sh('sh', ['-c', `tar cf - "${data}" > /dev/null`]); // warm the page cache
}

const bytesIn = (dir: string) => Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);

interface Setup {
  config: string;
  archive: string;
  /** Directories that receive the set (emptied before each run). */
  sinkDirs: string[];
}

function writeConfig(dir: string, sinks: { name: string; url: string }[], netrc?: string): Setup {
  const config = join(dir, 'client.json');
  const archive = join(dir, 'archive');
  writeFileSync(config, JSON.stringify({ host: 'bench', sources: [data], recipients: [join(root, 'cert.pem')],
    sinks, archiveDir: archive, ...(netrc ? { netrc } : {}) })); // prettier-ignore
  return { config, archive, sinkDirs: [] };
}

async function fullBackup(s: Setup, what: string): Promise<Measurement> {
  rmSync(s.archive, { recursive: true, force: true });
  for (const d of s.sinkDirs) {
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
  }
  sh('sync', []);
  const m = await measure(node!, [...cliArgs, 'backup', '--full', '-q', '--config', s.config]);
  if (m.exitCode !== 0) throw new Error(`${what}: exit ${m.exitCode}: ${m.stderr.slice(-800)}`);
  return m;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  makeData();
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:3072', '-nodes', '-subj', '/CN=bench', '-days', '2',
    '-keyout', join(root, 'key.pem'), '-out', join(root, 'cert.pem')], { stdio: 'ignore' }); // prettier-ignore

  mkdirSync(join(root, 'local'));
  const localSink = join(root, 'local', 'sink', 'bench');
  mkdirSync(localSink, { recursive: true });
  const local = writeConfig(join(root, 'local'), [{ name: 'local', url: `file://${localSink}/` }]);
  local.sinkDirs = [localSink];

  const sinks: RunningSink[] = [];
  for (const name of ['a', 'b']) {
    mkdirSync(join(root, name, 'root'), { recursive: true });
    sinks.push(await startEmbeddedSink({ root: join(root, name, 'root'), hosts: { bench: PASSWORD } }));
  }
  const netrc = join(root, 'netrc');
  writeFileSync(netrc, `machine 127.0.0.1 login bench password ${PASSWORD}\n`, { mode: 0o600 });
  mkdirSync(join(root, 'mirror'));
  const mirror = writeConfig(
    join(root, 'mirror'),
    sinks.map((s, i) => ({ name: 'ab'[i]!, url: `${s.url}bench/` })),
    netrc,
  );
  mirror.sinkDirs = sinks.map((s) => join(s.root, 'bench'));

  const runs: { local: Measurement[]; mirror: Measurement[] } = { local: [], mirror: [] };
  try {
    for (let i = 0; i < REPEAT; i++) {
      runs.local.push(await fullBackup(local, 'local'));
      runs.mirror.push(await fullBackup(mirror, 'two sinks'));
    }
  } finally {
    for (const s of sinks) await s.stop();
  }
  const stored = bytesIn(local.sinkDirs[0]!);
  for (const d of mirror.sinkDirs)
    if (bytesIn(d) !== stored) throw new Error(`${d}: ${bytesIn(d)} bytes, local directory has ${stored}`);

  const row = (name: string, ms: Measurement[]) => [
    name,
    median(ms.map((m) => m.wallSeconds)),
    median(ms.map((m) => m.userSeconds + m.systemSeconds)),
    Math.max(...ms.map((m) => m.maxRssMiB)),
    ms.map((m) => m.wallSeconds.toFixed(2)).join(' '),
  ];
  const l = median(runs.local.map((m) => m.wallSeconds));
  const w = median(runs.mirror.map((m) => m.wallSeconds));
  const overhead = w / l - 1;
  printTable(
    `mirror, SCALE=${SCALE} (${(bytesIn(data) / MiB).toFixed(0)} MiB read, ${(stored / MiB).toFixed(0)} MiB stored per sink, ${REPEAT} run(s), median)`,
    [
      ['full backup to', 'wall s', 'CPU s', 'peak RSS MiB', 'each run (wall s)'],
      row('local directory', runs.local),
      row('two WebDAV sinks', runs.mirror),
    ],
  );
  printTable('deaddrop against the target', [
    ['measure', 'value', 'target', 'verdict'],
    [
      'two-sink overhead (wall)',
      `${(overhead * 100).toFixed(1)} %`,
      `<= ${TARGET * 100} %`,
      verdict(overhead <= TARGET),
    ],
  ]);
}

await main();
