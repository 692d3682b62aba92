/**
 * What the checker cannot read, run as an unprivileged user (the tests run as root, for whom
 * every file is readable): reported per host as `unreadable`, the check goes on.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { fullManifestName, fullSignaturesName, fullVolumeName, sumsFileName } from '@deaddrop/client/format/names';
import { deaddropArgv, runCommand, tempDir } from '@deaddrop/test';
import type { CheckReport } from '../src/report.js';
import { DAY, setMtime, testRecipients, writeChain, writeFleet } from './tree.js';

const NOW = 1_800_000_000;
const ago = (d: number) => NOW - Math.round(d * DAY);
const isRoot = process.getuid?.() === 0;

const dir = tempDir();
const root = join(dir, 'root');
const fleet = join(dir, 'fleet.json');

/** Codes each host must report, exactly (sorted). */
const EXPECTED: Record<string, string[]> = {
  'healthy.lab': [],
  // a host directory the checker may not list
  'locked.lab': ['unreadable'],
  // legacy unencrypted sets: a volume nothing sniffs or hashes, and the plain manifest
  'legacyvol.lab': ['unreadable'],
  'legacyman.lab': ['unreadable'],
  // a sums file it may not read is unreadable, not malformed (bad-sums)
  'lockedsums.lab': ['unreadable'],
};

/** A legacy duplicity full (plain manifest, .gz volume and signatures) at time t. */
function writeLegacyFull(hostDir: string, t: number): { volume: string; manifest: string } {
  mkdirSync(hostDir, { recursive: true });
  const volume = `${fullVolumeName(t, 1)}.gz`;
  const manifest = fullManifestName(t);
  writeFileSync(join(hostDir, volume), gzipSync(randomBytes(2000)));
  writeFileSync(join(hostDir, `${fullSignaturesName(t)}.gz`), gzipSync(randomBytes(500)));
  writeFileSync(join(hostDir, manifest), 'Hostname legacy\nVolume 1:\n    StartingPath   .\n    EndingPath     etc\n');
  setMtime(hostDir, [volume, manifest, `${fullSignaturesName(t)}.gz`], t);
  return { volume, manifest };
}

before(async () => {
  const rcp = await testRecipients(join(dir, 'keys'));
  const h = (name: string) => join(root, name);
  for (const name of ['healthy.lab', 'locked.lab', 'lockedsums.lab'])
    await writeChain(h(name), rcp, ago(10), [ago(2), ago(1)], { volumes: 2 });
  writeFleet(
    fleet,
    Object.keys(EXPECTED).map((name) => ({ name, kind: 'linux' })),
  );
  // readable by everyone but what each case locks
  chmodSync(join(h('legacyvol.lab'), writeLegacyFull(h('legacyvol.lab'), ago(1)).volume), 0o600);
  chmodSync(join(h('legacyman.lab'), writeLegacyFull(h('legacyman.lab'), ago(1)).manifest), 0o600);
  chmodSync(join(h('lockedsums.lab'), sumsFileName(ago(1), ago(2))), 0o600);
  for (const d of [dir, root, h('healthy.lab')]) chmodSync(d, 0o755);
  mkdirSync(h('locked.lab'), { recursive: true });
  chmodSync(h('locked.lab'), 0o700);
  chmodSync(fleet, 0o644);
});

function asNobody(args: string[]) {
  const [cmd, ...rest] = deaddropArgv();
  return runCommand('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', cmd!, ...rest, ...args], {
    env: { ...process.env, HOME: '/tmp' },
  });
}

function codes(report: CheckReport): Record<string, string[]> {
  return Object.fromEntries(report.hosts.map((h) => [h.host, h.problems.map((p) => p.code).sort()]));
}

for (const mode of ['--deep', '--quick'])
  test(
    `${mode} as an unprivileged user: what it cannot read is unreadable, the rest is checked`,
    { skip: !isRoot && 'needs root (setpriv)' },
    async () => {
      const r = await asNobody(['check', '--root', root, '--fleet', fleet, mode, '--json', '--now', String(NOW)]);
      assert.equal(r.code, 1, r.stderr);
      const report = JSON.parse(r.stdout) as CheckReport;
      assert.deepEqual(codes(report), EXPECTED);
      const locked = report.hosts.find((h) => h.host === 'locked.lab')!;
      assert.match(locked.problems[0]!.message, /locked\.lab: directory cannot be read: EACCES/);
      const sums = report.hosts.find((h) => h.host === 'lockedsums.lab')!.problems[0]!;
      assert.match(sums.message, /^deaddrop-inc\.\S+\.sha256sums: .*EACCES/);
      const man = report.hosts.find((h) => h.host === 'legacyman.lab')!.problems[0]!;
      assert.deepEqual([man.file, man.set], [fullManifestName(ago(1)), `full.${man.file!.split('.')[1]}`]);
    },
  );

test(
  'a root it cannot read: exit 2 naming --root, and the report (every host unreadable) still goes out',
  { skip: !isRoot && 'needs root (setpriv)' },
  async () => {
    const lockedRoot = join(dir, 'locked-root');
    mkdirSync(lockedRoot, { mode: 0o700 });
    const out = join(dir, 'out');
    mkdirSync(out);
    chmodSync(out, 0o777);
    const prom = join(out, 'check.prom');
    const r = await asNobody(['check', '--root', lockedRoot, '--fleet', fleet, '--json', '--prom-file', prom]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^deaddrop: --root \S+locked-root: cannot be read: EACCES .*: no host was checked$/m);
    const report = JSON.parse(r.stdout) as CheckReport;
    assert.equal(report.ok, false);
    assert.match(report.error!, /locked-root: cannot be read: EACCES/);
    assert.deepEqual(
      report.hosts.map((h) => [h.host, h.problems.map((p) => p.code)]),
      Object.keys(EXPECTED)
        .sort((a, b) => a.localeCompare(b))
        .map((h) => [h, ['unreadable']]),
    );
    assert.match(readFileSync(prom, 'utf8'), /^deaddrop_check_ok 0$/m);
  },
);
