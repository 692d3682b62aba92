/**
 * What one host uploads cannot take the check down for the others: sums files listing huge
 * numbers of absent files, files too large to be what their names say, a host whose check throws.
 */
import assert from 'node:assert/strict';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
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
