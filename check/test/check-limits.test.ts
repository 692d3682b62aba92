/**
 * What one host uploads cannot take the check down for the others: sums files listing huge
 * numbers of absent files, files too large to be what their names say, a host whose check throws.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fullVolumeName, storedName, sumsFileName } from '@deaddrop/client/format/names';
import { runDeaddrop, tempDir } from '@deaddrop/test';
import { DEFAULT_THRESHOLDS, type Thresholds } from '../src/hosts.js';
import type { CheckReport } from '../src/report.js';
import { checkRoot } from '../src/run.js';
import { DAY, setMtime, testRecipients, writeChain, writeFleet } from './tree.js';

const NOW = 1_800_000_000;
const ago = (d: number) => NOW - Math.round(d * DAY);
const LISTED = 200_000;

const dir = tempDir();
const root = join(dir, 'root');
const fleet = join(dir, 'fleet.json');
const HOSTS = ['good.lab', 'rogue.lab', 'bigsums.lab'];

before(async () => {
  const rcp = await testRecipients(join(dir, 'keys'));
  for (const h of HOSTS) await writeChain(join(root, h), rcp, ago(10), [ago(2), ago(1)]);
  // a set of nothing but a sums file listing 200 000 absent files and 1000 absent volumes
  const rogue = join(root, 'rogue.lab');
  const sums = sumsFileName(ago(0.5));
  const hex = 'a'.repeat(64);
  const lines: string[] = [];
  for (let i = 0; i < LISTED; i++) lines.push(`${hex}  x${i}\n`);
  for (let n = 1; n <= 1000; n++)
    lines.push(`${hex}  ${storedName(fullVolumeName(ago(0.5), n), { gzip: true, cms: true })}\n`);
  writeFileSync(join(rogue, sums), lines.join(''));
  setMtime(rogue, [sums], ago(0.5));
  // a sums file larger than any real one (sparse: nothing is written or read)
  const big = join(root, 'bigsums.lab', sumsFileName(ago(0.5)));
  writeFileSync(big, '');
  truncateSync(big, 40 * 1024 * 1024);
  setMtime(join(root, 'bigsums.lab'), [sumsFileName(ago(0.5))], ago(0.5));
  writeFleet(
    fleet,
    HOSTS.map((name) => ({ name, kind: 'linux' })),
  );
});

test('a sums file listing 200 000 absent files: a few problems with counts; the other hosts are reported', async () => {
  const prom = join(dir, 'check.prom');
  const r = await runDeaddrop([
    'check',
    '--root',
    root,
    '--fleet',
    fleet,
    '--quick',
    '--json',
    '--now',
    String(NOW),
    '--prom-file',
    prom,
  ]);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as CheckReport;
  const byHost = new Map(report.hosts.map((h) => [h.host, h]));
  assert.equal(byHost.get('good.lab')!.status, 'ok');

  const rogue = byHost.get('rogue.lab')!.problems;
  assert.ok(rogue.length <= 5, `${rogue.length} problems`);
  const files = rogue.find((p) => p.code === 'missing-file')!;
  assert.match(files.message, new RegExp(`: ${LISTED} files listed in \\S+ are missing: x0, x1, x2, …$`));
  assert.equal(files.file, 'x0');
  const volumes = rogue.find((p) => p.code === 'missing-volume')!;
  assert.match(volumes.message, /: volumes 1-1000 missing$/);

  // the set itself is missing everything else too: only its sums file is there
  const big = byHost.get('bigsums.lab')!.problems.filter((p) => p.code === 'bad-sums');
  assert.deepEqual(
    big.map((p) => p.file),
    [sumsFileName(ago(0.5))],
  );
  assert.match(big[0]!.message, /too large .*\(40\.0 MiB, at most 32\.0 MiB\)/);

  assert.match(readFileSync(prom, 'utf8'), /^deaddrop_check_host_ok\{host="good\.lab",kind="linux"\} 1$/m);
});

test("a host whose check throws is that host's check-failed error; the others are still checked", async () => {
  const thresholds = null as unknown as Thresholds; // any bug in a rule: here, no thresholds
  const report = await checkRoot({
    root,
    hosts: [
      { name: 'good.lab', kind: 'linux', thresholds: DEFAULT_THRESHOLDS },
      { name: 'rogue.lab', kind: 'linux', thresholds },
    ],
    now: NOW,
    deep: false,
  });
  const byHost = new Map(report.hosts.map((h) => [h.host, h]));
  assert.equal(byHost.get('good.lab')!.status, 'ok');
  const failed = byHost.get('rogue.lab')!;
  assert.equal(failed.status, 'problem');
  assert.deepEqual(
    failed.problems.map((p) => p.code),
    ['check-failed'],
  );
  assert.match(failed.problems[0]!.message, /^the check of rogue\.lab stopped: .*maxFullAge/);
});

test('20 000 stray files in a host directory: one counted problem per kind, not one each', async () => {
  const litterRoot = join(dir, 'litter-root');
  const host = join(litterRoot, 'litter.lab');
  await writeChain(host, await testRecipients(join(dir, 'keys2')), ago(10), [ago(2), ago(1)]);
  const strays = Array.from({ length: 20_000 }, (_, i) => `junk-${String(i).padStart(5, '0')}`);
  for (const name of strays) writeFileSync(join(host, name), '');
  // temp files of aborted uploads, in the host directory and in the embedded sink's temp dir
  const partials = ['a', 'b', 'c', 'd', 'e'].map((n) => `${n}.part`);
  const sinkTemps = ['0', '1', '2', '3'].map((n) => `.deaddrop-tmp/litter.lab.${n.repeat(16)}.part`);
  mkdirSync(join(litterRoot, '.deaddrop-tmp'));
  for (const name of partials) writeFileSync(join(host, name), 'x');
  for (const name of sinkTemps) writeFileSync(join(litterRoot, name), 'x');
  setMtime(host, partials, ago(1));
  for (const name of sinkTemps) utimesSync(join(litterRoot, name), ago(1), ago(1));
  const litterFleet = writeFleet(join(dir, 'litter-fleet.json'), [{ name: 'litter.lab', kind: 'linux' }]);

  const r = await runDeaddrop([
    'check',
    '--root',
    litterRoot,
    '--fleet',
    litterFleet,
    '--quick',
    '--json',
    '--now',
    String(NOW),
  ]);
  const report = JSON.parse(r.stdout) as CheckReport;
  assert.equal(r.code, 1, r.stderr);
  const litter = report.hosts.find((h) => h.host === 'litter.lab')!;
  assert.deepEqual(
    litter.problems.map((p) => [p.code, p.severity, p.message, p.file]),
    [
      [
        'unknown-file',
        'warning',
        '20000 files that are no backup files: junk-00000, junk-00001, junk-00002, …',
        'junk-00000',
      ],
      ['temp-leftover', 'warning', '5 temp files of aborted uploads: a.part, b.part, c.part, …', 'a.part'],
      [
        'temp-leftover',
        'warning',
        `4 temp files of aborted uploads: ${sinkTemps.slice(0, 3).join(', ')}, …`,
        sinkTemps[0],
      ],
    ],
  );
  assert.deepEqual([litter.status, litter.chainLength, litter.files], ['warning', 3, 20_000 + 5 + 3 * 4]);
});
