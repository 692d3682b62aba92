/**
 * The checker on what `deaddrop backup` really writes (not crafted sets): a full + incremental
 * chain of several volumes is healthy; copies of it with one anomaly each are named exactly.
 */
import assert from 'node:assert/strict';
import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTestRecipient, runDeaddrop, seededBytes, tempDir, writeLocalClientConfig } from '@deaddrop/test';
import type { CheckReport } from '../src/report.js';
import { flipByte } from './tree.js';

const HOST = 'real.lab';

async function backup(config: string, mode: '--full' | '--incremental'): Promise<void> {
  const r = await runDeaddrop(['backup', mode, '--config', config, '--volume-size', '1MB', '--json']);
  assert.equal(r.code, 0, `backup ${mode}: ${r.stderr}`);
}

test('real deaddrop backup output: healthy chain ok; missing volume, manifest, sums, flipped byte, truncation, swapped volumes each named', async () => {
  const dir = tempDir('deaddrop-check-backup-');
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'big.bin'), seededBytes('big', 3_000_000)); // incompressible: 3+ volumes of 1 MB
  writeFileSync(join(src, 'notes.txt'), 'first\n');
  const key = await makeTestRecipient(join(dir, 'keys'), { bits: 2048 });
  const root = join(dir, 'root');
  const { config } = writeLocalClientConfig(dir, {
    host: HOST,
    sources: [src],
    recipients: [key.certPath],
    sinkRoot: root,
  });
  await backup(config, '--full');
  writeFileSync(join(src, 'notes.txt'), 'second\n');
  await backup(config, '--incremental');

  const names = readdirSync(join(root, HOST));
  const one = (re: RegExp) => {
    const hits = names.filter((n) => re.test(n));
    assert.equal(hits.length, 1, `${re}: ${names.join(' ')}`);
    return hits[0]!;
  };
  const fullVol2 = one(/^duplicity-full\.[^.]+\.vol2\.difftar\.gz\.p7m$/);
  const fullVol1 = one(/^duplicity-full\.[^.]+\.vol1\.difftar\.gz\.p7m$/);
  const incManifest = one(/^duplicity-inc\..*\.manifest\.p7m$/);
  const fullSums = one(/^deaddrop-full\..*\.sha256sums$/);
  const hosts: Record<string, (d: string) => void> = {
    [HOST]: () => {},
    'missvol.lab': (d) => rmSync(join(d, fullVol2)),
    'missman.lab': (d) => rmSync(join(d, incManifest)),
    'misssums.lab': (d) => rmSync(join(d, fullSums)),
    'flip.lab': (d) => flipByte(join(d, fullVol2), 4000),
    'trunc.lab': (d) => truncateSync(join(d, fullVol2), statSync(join(d, fullVol2)).size - 100),
    // two whole, well-framed volumes under each other's name: only the sums see it (not --quick)
    'swap.lab': (d) => {
      renameSync(join(d, fullVol1), join(d, 'swap'));
      renameSync(join(d, fullVol2), join(d, fullVol1));
      renameSync(join(d, 'swap'), join(d, fullVol2));
    },
    // a sums file that leaves a volume out vouches for none of its bytes: the host is at fault
    'unlisted.lab': (d) => {
      const sums = join(d, fullSums);
      const kept = readFileSync(sums, 'utf8')
        .split('\n')
        .filter((line) => !line.endsWith(fullVol2));
      writeFileSync(sums, kept.join('\n'));
      flipByte(join(d, fullVol2), 4000);
    },
  };
  for (const [host, spoil] of Object.entries(hosts)) {
    if (host === HOST) continue;
    cpSync(join(root, HOST), join(root, host), { recursive: true });
    spoil(join(root, host));
  }
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(
    htpasswd,
    Object.keys(hosts)
      .map((h) => `${h}:{SHA}x\n`)
      .join(''),
  );

  // two hours on: past the 1 h grace in which a set without its sums file may still be uploading
  const later = String(Math.floor(Date.now() / 1000) + 7200);
  const r = await runDeaddrop(['check', '--root', root, '--htpasswd', htpasswd, '--json', '--now', later]);
  const report = JSON.parse(r.stdout) as CheckReport;
  const codes = Object.fromEntries(report.hosts.map((h) => [h.host, h.problems.map((p) => p.code).sort()]));
  assert.deepEqual(codes, {
    [HOST]: [],
    'missvol.lab': ['missing-volume'],
    'missman.lab': ['missing-manifest'],
    'misssums.lab': ['missing-sums'],
    'flip.lab': ['checksum-mismatch'],
    'trunc.lab': ['truncated'],
    'swap.lab': ['checksum-mismatch', 'checksum-mismatch'],
    'unlisted.lab': ['unlisted-file'],
  });
  assert.equal(r.code, 1);
  const unlisted = report.hosts.find((h) => h.host === 'unlisted.lab')!;
  assert.deepEqual(
    [unlisted.status, unlisted.problems[0]!.severity, unlisted.problems[0]!.file],
    ['problem', 'error', fullVol2],
  );
  const healthy = report.hosts.find((h) => h.host === HOST)!;
  assert.deepEqual([healthy.status, healthy.chainLength, healthy.newestSetComplete], ['ok', 2, true]);
  assert.equal(report.hosts.find((h) => h.host === 'flip.lab')!.problems[0]!.file, fullVol2);
  const swapped = report.hosts.find((h) => h.host === 'swap.lab')!.problems.map((p) => p.file);
  assert.deepEqual(swapped.sort(), [fullVol1, fullVol2].sort());

  // --quick reads no content: the swap passes it, as documented (check --help, docs/FORMAT.md)
  const quick = await runDeaddrop([
    'check',
    '--root',
    root,
    '--htpasswd',
    htpasswd,
    '--quick',
    '--json',
    '--now',
    later,
  ]);
  const quickReport = JSON.parse(quick.stdout) as CheckReport;
  assert.deepEqual(quickReport.hosts.find((h) => h.host === 'swap.lab')!.problems, []);

  // the healthy host alone: exit 0
  writeFileSync(htpasswd, `${HOST}:{SHA}x\n`);
  for (const host of Object.keys(hosts)) if (host !== HOST) rmSync(join(root, host), { recursive: true });
  const alone = await runDeaddrop(['check', '--root', root, '--htpasswd', htpasswd, '--json', '--now', later]);
  assert.equal(alone.code, 0, alone.stdout);
});
