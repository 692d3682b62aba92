// npm run bench -- restore: a full restore of the shared dataset (/work/shared/bench,
// make-dataset.sh; SCALE env, default 1.0) by `deaddrop restore` (CMS + gzip sets, from a
// file:// sink) next to `duplicity restore` of the same data (symmetric gpg like the reference
// figures, and --no-encryption), measured in the same run: wall, CPU, peak RSS. Each restore is
// checked against the source (diff -r). Targets (issue 6): >= 3x duplicity's speed, RSS <= 80 MiB.
// REPEAT=n takes the median of n restores of each tool (default 1).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deaddropArgv, repoRoot } from '@deaddrop/test';
import { measure, median, printTable, verdict, type Measurement } from './lib.js';

const SCALE = process.env.SCALE ?? '1.0';
const REPEAT = Number(process.env.REPEAT ?? 1);
const SHARED = process.env.DATASET_SCRIPTS ?? '/work/shared/bench';
const benchDir = process.env.BENCH_DIR ?? join(repoRoot, '.bench');
const root = join(benchDir, 'restore');
const MiB = 1 << 20;
const [node, ...cliArgs] = deaddropArgv();

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
}

function ok(m: Measurement, what: string): Measurement {
  if (m.exitCode !== 0) throw new Error(`${what}: exit ${m.exitCode}: ${m.stderr.slice(-800)}`);
  return m;
}

/** The dataset: the backup bench's pristine copy when it made one, else made here once. */
function dataset(): string {
  for (const dir of [join(benchDir, 'backup'), root]) {
    if (existsSync(join(dir, `data-${SCALE}.complete`))) return join(dir, `data-${SCALE}`);
  }
  const data = join(root, `data-${SCALE}`);
  rmSync(data, { recursive: true, force: true });
  sh(join(SHARED, 'make-dataset.sh'), [data, SCALE]);
  writeFileSync(join(root, `data-${SCALE}.complete`), '');
  return data;
}

/** The restored tree equals the source (content, links, types); throws with diff's words otherwise. */
function checkSame(src: string, out: string, what: string): void {
  const r = spawnSync('diff', ['-r', '--no-dereference', '-q', src, out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what}: restore differs from the source:\n${r.stdout.slice(0, 2000)}`);
}

interface Tool {
  name: string;
  /** Back up the dataset (not measured). */
  backup(data: string): void;
  restore(out: string): Promise<Measurement>;
}

function deaddropTool(): Tool {
  const d = join(root, 'deaddrop');
  const sink = join(d, 'sink');
  return {
    name: 'deaddrop',
    backup(data) {
      rmSync(d, { recursive: true, force: true });
      mkdirSync(join(sink, 'bench'), { recursive: true });
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:3072', '-nodes', '-subj', '/CN=bench', '-days', '2',
        '-keyout', join(d, 'key.pem'), '-out', join(d, 'cert.pem')], { stdio: 'ignore' }); // prettier-ignore
      const cfg = join(d, 'client.json');
      writeFileSync(cfg, JSON.stringify({ host: 'bench', sources: [data], recipients: [join(d, 'cert.pem')],
        sinks: [{ name: 'local', url: `file://${sink}/bench/` }], archiveDir: join(d, 'archive') })); // prettier-ignore
      sh(node!, [...cliArgs, 'backup', '--full', '-q', '--config', cfg]);
    },
    restore: async (out) =>
      ok(await measure(node!, [...cliArgs, 'restore', '-q', '--from', sink, '--host', 'bench', '--key',
        join(d, 'key.pem'), '--to', out]), 'deaddrop restore'), // prettier-ignore
  };
}

function duplicityTool(encrypted: boolean): Tool {
  const name = encrypted ? 'duplicity (gpg)' : 'duplicity (plain)';
  const d = join(root, encrypted ? 'duplicity-gpg' : 'duplicity-plain');
  const env = { ...process.env, HOME: join(d, 'home'), GNUPGHOME: join(d, 'gnupg'), PASSPHRASE: 'bench' };
  const common = [...(encrypted ? [] : ['--no-encryption']), '--archive-dir', join(d, 'cache'), '--name', 'bench'];
  const target = `file://${join(d, 'target')}`;
  return {
    name,
    backup(data) {
      rmSync(d, { recursive: true, force: true });
      mkdirSync(join(d, 'gnupg'), { recursive: true, mode: 0o700 });
      sh('duplicity', ['full', ...common, data, target], env);
    },
    restore: async (out) =>
      ok(await measure('duplicity', ['restore', ...common, target, out], { env }), `${name} restore`),
  };
}

async function main(): Promise<void> {
  mkdirSync(root, { recursive: true });
  const data = dataset();
  sh('sh', ['-c', `tar cf - "${data}" > /dev/null`]); // warm the page cache
  const tools = [deaddropTool(), duplicityTool(true), duplicityTool(false)];
  if (spawnSync('sh', ['-c', 'command -v duplicity']).status !== 0) {
    console.log('(skipping duplicity: not installed; apt-get install -y duplicity)');
    tools.splice(1);
  }
  const rows = new Map<string, Measurement>();
  // Restored trees are removed only at the end. ext4 without a journal (as on this VM) skips
  // inodes freed in the last ~30 s on every create, so a restore right after deleting the last
  // one's 20,000 files spent half its time in the kernel's recently_deleted() (perf).
  const outs = join(root, 'outs');
  if (existsSync(outs)) {
    rmSync(outs, { recursive: true, force: true }); // left by an interrupted run
    await new Promise((resolve) => setTimeout(resolve, 35_000));
  }
  for (const [i, t] of tools.entries()) {
    t.backup(data);
    const runs: Measurement[] = [];
    for (let rep = 0; rep < REPEAT; rep++) {
      const out = join(outs, `${i}-${rep}`);
      mkdirSync(outs, { recursive: true });
      sh('sync', []); // the set just written, or the last restored tree, is not flushed during this run
      runs.push(await t.restore(out));
      checkSame(data, out, t.name);
    }
    rows.set(t.name, median(runs));
  }
  rmSync(outs, { recursive: true, force: true });
  const bytes = Number(execFileSync('du', ['-sb', data], { encoding: 'utf8' }).split('\t')[0]);
  const table: (string | number)[][] = [['tool', 'restore s', 'CPU s', 'RSS MiB', 'MiB/s']];
  for (const [name, m] of rows)
    table.push([name, m.wallSeconds, m.userSeconds + m.systemSeconds, m.maxRssMiB, bytes / MiB / m.wallSeconds]);
  printTable(`full restore, SCALE=${SCALE} (${(bytes / MiB).toFixed(0)} MiB, local directories, ${REPEAT} run(s), median)`, table); // prettier-ignore

  const d = rows.get('deaddrop')!;
  const targets: (string | number)[][] = [['target', 'deaddrop', 'reference', 'ratio', 'goal', '']];
  for (const ref of ['duplicity (gpg)', 'duplicity (plain)']) {
    const r = rows.get(ref);
    if (!r) continue;
    const speedup = r.wallSeconds / d.wallSeconds;
    targets.push([`speed vs ${ref}`, `${d.wallSeconds.toFixed(2)} s`, `${r.wallSeconds.toFixed(2)} s`, speedup, '>= 3x', verdict(speedup >= 3)]); // prettier-ignore
  }
  targets.push(['peak RSS', `${d.maxRssMiB.toFixed(1)} MiB`, '80 MiB', d.maxRssMiB / 80, '<= 1', verdict(d.maxRssMiB <= 80)]); // prettier-ignore
  printTable('deaddrop restore against the targets', targets);
}

await main();
