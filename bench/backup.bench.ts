// npm run bench -- backup: `deaddrop backup` full and incremental on the shared dataset
// (/work/shared/bench: make-dataset.sh, then apply-daily-change.sh; SCALE env, default 1.0) next
// to duplicity 0.8.22 (symmetric gpg like the reference figures, and --no-encryption), restic and
// borg, all to local directories, measured in the same run: wall, CPU, peak RSS, bytes stored
// by the full and added by the incremental. Targets (issue 4): full wall <= 0.8x borg's,
// incremental wall <= 0.9x restic's, bytes added <= duplicity's, peak RSS <= 80 MiB.
// REPEAT=n takes the median of n runs of each tool (default 1).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deaddropArgv, repoRoot } from '@deaddrop/test';
import { measure, median, printTable, verdict, type Measurement } from './lib.js';

const SCALE = process.env.SCALE ?? '1.0';
const REPEAT = Number(process.env.REPEAT ?? 1);
const SHARED = process.env.DATASET_SCRIPTS ?? '/work/shared/bench';
const root = join(process.env.BENCH_DIR ?? join(repoRoot, '.bench'), 'backup');
const pristine = join(root, `data-${SCALE}`);
const data = join(root, 'data');
const MiB = 1 << 20;
const [node, ...cliArgs] = deaddropArgv();

interface Tool {
  name: string;
  /** Fresh target and caches; returns the target directory (for sizes). */
  init(): string;
  full(): Promise<Measurement>;
  inc(): Promise<Measurement>;
}

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
}

function bytesIn(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

function ok(m: Measurement, what: string): Measurement {
  if (m.exitCode !== 0) throw new Error(`${what}: exit ${m.exitCode}: ${m.stderr.slice(-800)}`);
  return m;
}

function dirFor(name: string): string {
  const d = join(root, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  return d;
}

function deaddropTool(): Tool {
  let cfg = '';
  return {
    name: 'deaddrop',
    init() {
      const d = dirFor('deaddrop');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:3072', '-nodes', '-subj', '/CN=bench', '-days', '2',
        '-keyout', join(d, 'key.pem'), '-out', join(d, 'cert.pem')], { stdio: 'ignore' }); // prettier-ignore
      cfg = join(d, 'client.json');
      const sink = join(d, 'sink');
      writeFileSync(cfg, JSON.stringify({ host: 'bench', sources: [data], recipients: [join(d, 'cert.pem')],
        sinks: [{ name: 'local', url: `file://${sink}/bench/` }], archiveDir: join(d, 'archive') })); // prettier-ignore
      mkdirSync(join(sink, 'bench'), { recursive: true });
      return sink;
    },
    full: async () =>
      ok(await measure(node!, [...cliArgs, 'backup', '--full', '-q', '--config', cfg]), 'deaddrop full'),
    inc: async () =>
      ok(await measure(node!, [...cliArgs, 'backup', '--incremental', '-q', '--config', cfg]), 'deaddrop inc'),
  };
}

function duplicityTool(encrypted: boolean): Tool {
  const name = encrypted ? 'duplicity (gpg)' : 'duplicity (plain)';
  let d = '';
  const env = () => ({ ...process.env, HOME: join(d, 'home'), GNUPGHOME: join(d, 'gnupg'), PASSPHRASE: 'bench' });
  const args = (mode: string) => [mode, ...(encrypted ? [] : ['--no-encryption']), '--archive-dir', join(d, 'cache'),
    '--name', 'bench', data, `file://${join(d, 'target')}`]; // prettier-ignore
  return {
    name,
    init() {
      d = dirFor(encrypted ? 'duplicity-gpg' : 'duplicity-plain');
      mkdirSync(join(d, 'gnupg'), { mode: 0o700 });
      mkdirSync(join(d, 'target'));
      return join(d, 'target');
    },
    full: async () => ok(await measure('duplicity', args('full'), { env: env() }), `${name} full`),
    inc: async () => ok(await measure('duplicity', args('incremental'), { env: env() }), `${name} inc`),
  };
}

function resticTool(): Tool {
  let d = '';
  const env = () => ({
    ...process.env,
    RESTIC_PASSWORD: 'bench',
    RESTIC_REPOSITORY: join(d, 'repo'),
    RESTIC_CACHE_DIR: join(d, 'cache'),
  });
  return {
    name: 'restic',
    init() {
      d = dirFor('restic');
      sh('restic', ['init', '-q'], env());
      return join(d, 'repo');
    },
    full: async () => ok(await measure('restic', ['backup', '-q', data], { env: env() }), 'restic full'),
    inc: async () => ok(await measure('restic', ['backup', '-q', data], { env: env() }), 'restic inc'),
  };
}

function borgTool(): Tool {
  let d = '';
  const env = () => ({
    ...process.env,
    BORG_PASSPHRASE: 'bench',
    BORG_REPO: join(d, 'repo'),
    BORG_BASE_DIR: join(d, 'base'),
  });
  return {
    name: 'borg',
    init() {
      d = dirFor('borg');
      sh('borg', ['init', '-e', 'repokey'], env());
      return join(d, 'repo');
    },
    full: async () => ok(await measure('borg', ['create', '::full', data], { env: env() }), 'borg full'),
    inc: async () => ok(await measure('borg', ['create', '::inc', data], { env: env() }), 'borg inc'),
  };
}

function makeData(): void {
  // the pristine dataset is made once per scale (a marker says it is complete)
  const marker = join(root, `data-${SCALE}.complete`);
  if (!existsSync(marker)) {
    rmSync(pristine, { recursive: true, force: true });
    sh(join(SHARED, 'make-dataset.sh'), [pristine, SCALE]);
    writeFileSync(marker, '');
  }
  rmSync(data, { recursive: true, force: true });
  sh('cp', ['-a', pristine, data]);
  sh('sh', ['-c', `tar cf - "${data}" > /dev/null`]); // warm the page cache
}

interface Row {
  full: Measurement;
  inc: Measurement;
  stored: number;
  added: number;
}

async function main(): Promise<void> {
  mkdirSync(root, { recursive: true });
  const tools = [deaddropTool(), borgTool(), resticTool(), duplicityTool(true), duplicityTool(false)].filter((t) => {
    const bin = t.name.split(' ')[0]!;
    const have = bin === 'deaddrop' || spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
    if (!have)
      console.log(`(skipping ${t.name}: not installed; apt-get install -y ${bin === 'borg' ? 'borgbackup' : bin})`);
    return have;
  });
  const runs = new Map<string, { full: Measurement[]; inc: Measurement[]; stored: number[]; added: number[] }>();
  for (let rep = 0; rep < REPEAT; rep++) {
    makeData();
    const targets = new Map<string, string>();
    for (const t of tools) {
      const target = t.init();
      targets.set(t.name, target);
      const r = runs.get(t.name) ?? { full: [], inc: [], stored: [], added: [] };
      runs.set(t.name, r);
      // each tool starts with no writeback pending: the data copy's 1 GiB of dirty pages, or the
      // last tool's set, would otherwise be flushed during the next measured run
      sh('sync', []);
      r.full.push(await t.full());
      r.stored.push(bytesIn(target));
    }
    sh(join(SHARED, 'apply-daily-change.sh'), [data, SCALE]);
    sh('sh', ['-c', `tar cf - "${data}" > /dev/null`]);
    for (const t of tools) {
      const r = runs.get(t.name)!;
      sh('sync', []);
      r.inc.push(await t.inc());
      r.added.push(bytesIn(targets.get(t.name)!) - r.stored[r.stored.length - 1]!);
    }
  }
  const rows = new Map<string, Row>();
  for (const [name, r] of runs)
    rows.set(name, { full: median(r.full), inc: median(r.inc), stored: r.stored.at(-1)!, added: r.added.at(-1)! });

  const cpu = (m: Measurement) => m.userSeconds + m.systemSeconds;
  const table: (string | number)[][] = [
    ['tool', 'full s', 'full CPU s', 'full RSS MiB', 'stored MiB', 'inc s', 'inc CPU s', 'inc RSS MiB', 'added MiB'],
  ];
  for (const [name, r] of rows)
    table.push([name, r.full.wallSeconds, cpu(r.full), r.full.maxRssMiB, r.stored / MiB, r.inc.wallSeconds, cpu(r.inc), r.inc.maxRssMiB, r.added / MiB]); // prettier-ignore
  const dataBytes = bytesIn(data);
  printTable(
    `backup, SCALE=${SCALE} (${(dataBytes / MiB).toFixed(0)} MiB, local targets, ${REPEAT} run(s), median)`,
    table,
  );

  const d = rows.get('deaddrop')!;
  const targetRows: (string | number)[][] = [['target', 'deaddrop', 'reference', 'ratio', 'goal', '']];
  const ratio = (
    label: string,
    ours: number,
    ref: Row | undefined,
    theirs: (r: Row) => number,
    goal: number,
    unit = '',
  ) => {
    if (!ref) return;
    const t = theirs(ref);
    targetRows.push([
      label,
      `${ours.toFixed(2)}${unit}`,
      `${t.toFixed(2)}${unit}`,
      ours / t,
      `<= ${goal}`,
      verdict(ours / t <= goal),
    ]);
  };
  ratio('full wall vs borg', d.full.wallSeconds, rows.get('borg'), (r) => r.full.wallSeconds, 0.8, ' s');
  ratio('incremental wall vs restic', d.inc.wallSeconds, rows.get('restic'), (r) => r.inc.wallSeconds, 0.9, ' s');
  ratio('bytes added vs duplicity (gpg)', d.added / MiB, rows.get('duplicity (gpg)'), (r) => r.added / MiB, 1, ' MiB');
  ratio(
    'bytes added vs duplicity (plain)',
    d.added / MiB,
    rows.get('duplicity (plain)'),
    (r) => r.added / MiB,
    1,
    ' MiB',
  );
  ratio(
    'full stored vs duplicity (gpg)',
    d.stored / MiB,
    rows.get('duplicity (gpg)'),
    (r) => r.stored / MiB,
    1,
    ' MiB',
  );
  const rss = Math.max(d.full.maxRssMiB, d.inc.maxRssMiB);
  targetRows.push(['peak RSS', `${rss.toFixed(1)} MiB`, '80 MiB', rss / 80, '<= 1', verdict(rss <= 80)]);
  printTable('deaddrop against the targets', targetRows);
}

await main();
