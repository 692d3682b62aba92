import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  companionName,
  FILE_SINK_TEMP_PREFIX,
  fullManifestName,
  fullVolumeName,
  incVolumeName,
  snowflakeName,
  storedName,
  sumsFileName,
} from '@deaddrop/client/format/names';
import { runDeaddrop, tempDir } from '@deaddrop/test';
import type { CheckReport } from '../src/report.js';
import {
  DAY,
  flipByte,
  setMtime,
  testRecipients,
  writeChain,
  writeFleet,
  writeOurSet,
  writeSnowflake,
} from './tree.js';

const NOW = 1_800_000_000;
const ago = (d: number) => NOW - Math.round(d * DAY);

let root: string;
let fleet: string;
let healthyRoot: string;
let healthyFleet: string;

/** Codes each host must report, exactly (sorted); [] means ok. */
const EXPECTED: Record<string, string[]> = {
  'healthy.lab': [],
  'ap.lab': [],
  // an OpenWrt host without MTD flash (mtdEvery "off") owes no flash dump; by default it does
  'noflash.lab': [],
  'flashless.lab': ['missing-snowflake'],
  'missvol.lab': ['missing-volume'],
  'missman.lab': ['missing-manifest'],
  'misssums.lab': ['missing-sums'],
  'flip.lab': ['checksum-mismatch'],
  'trunc.lab': ['truncated'],
  'stalefull.lab': ['stale-full'],
  'staleinc.lab': ['stale-incremental'],
  'fw.lab': ['stale-snowflake'],
  // a cut-short zroot-full left without its .sha256 does not count as a fresh full
  'leftfull.lab': ['missing-sha256', 'stale-snowflake'],
  'tiny.lab': ['size-too-small'],
  'huge.lab': ['size-too-large'],
  'ghost.lab': ['missing-host'],
  'stranger.lab': ['unknown-host'],
  'leftover.lab': ['temp-leftover', 'temp-leftover', 'temp-leftover'],
  // beyond the issue's list: per-host thresholds, a broken sums file, warnings
  'relaxed.lab': [],
  'badsums.lab': ['bad-sums'],
  // an empty sums file vouches for nothing: one problem says so, not one more per file of its set
  'emptysums.lab': ['bad-sums'],
  'aborted.lab': ['incomplete-set'],
  'orphan.lab': ['orphan-set'],
  // the middle incremental lost: what follows it is not restorable
  'broken.lab': ['broken-chain'],
  // files dated days ahead (a clock stepped back, nginx dating a PUT by the client's Date:) are
  // no upload in progress: what is missing or left over is reported
  'futuremtime.lab': ['missing-sums', 'temp-leftover', 'temp-leftover'],
  'futureap.lab': ['missing-sha256'],
  // a companion naming another file: sha256sum -c on the sink checks that one, not this
  'wrongname.lab': ['bad-sums'],
  // a short name dated past year 9999 is a stray, not a stop of the host's check
  'junk.lab': ['unknown-file', 'unknown-file'],
  // duplicity's par2 and jsonstat files of the backup are left alone; other such names are not
  'par2.lab': ['unknown-file', 'unknown-file'],
  // one crafted volume number: the gap is one problem (a range), not millions
  'farvol.lab': ['missing-volume', 'unlisted-file'],
  // a file name that is not UTF-8 is listed (lossily) as a stray, not an abort of the check
  'badname.lab': ['unknown-file'],
  // a set or snowflake dated in the future does not hide a host that stopped backing up
  'future.lab': ['future-time', 'stale-full', 'stale-incremental'],
  'futurefw.lab': ['future-time', 'stale-snowflake'],
  // a zroot-inc lost from the sink, its .sha256 (uploaded after it) still there
  'lostfw.lab': ['missing-file'],
  // a linked zroot-inc (T0.to.T) lost with its .sha256: the next one's base is gone (an old-style
  // zroot-inc.T, unlinked, still counts as a link: oldfw.lab checks clean)
  'gapfw.lab': ['broken-chain'],
  'oldfw.lab': [],
  // a gap in an older chain (a restore of a time within it needs it); a zroot-inc whose data is
  // lost but whose .sha256 stays: one problem, missing-file, not a broken-chain besides
  'oldgapfw.lab': ['broken-chain'],
  'lostlinkfw.lab': ['missing-file'],
  // the framing of a .p7m is checked whatever its first byte (--quick too), and a snowflake's
  // hash is compared even when its framing is already wrong
  'empty.lab': ['truncated'],
  'garbage.lab': ['bad-framing'],
  // well framed but no CMS EnvelopedData (`30 00`, an empty SEQUENCE): --quick too
  'hollow.lab': ['bad-framing'],
  'cutap.lab': ['checksum-mismatch', 'truncated'],
  // nginx's PUT follows symlinks: one in a host directory, or a host directory that is one
  'link.lab': ['symlink'],
  'linkdir.lab': ['symlink'],
  'straylink.lab': ['symlink'],
  // a file in the root: a stray, or where an enrolled host's directory should be
  'strayfile.lab': ['unknown-file'],
  'filehost.lab': ['missing-host'],
  // two directory names that are not UTF-8 and differ only there: two hosts, not one
  'x\\xfe': ['unknown-host', 'unreadable'],
  'x\\xff': ['unknown-host', 'unreadable'],
};
/** Directories (or files) in the root of hosts that are not in the fleet file. */
const NOT_ENROLLED = new Set(['stranger.lab', 'straylink.lab', 'strayfile.lab', 'x\\xfe', 'x\\xff']);
/** Per-host thresholds in the fleet file. */
const OVERRIDES: Record<string, object> = {
  'relaxed.lab': { maxIncrementalAge: '7d', maxFullAge: '60d' },
  'noflash.lab': { mtdEvery: 'off' },
};

function fleetFile(dir: string, hosts: { name: string; kind: string }[]): string {
  return writeFleet(
    join(dir, 'fleet.json'),
    hosts.map((h) => ({ name: h.name, kind: h.kind, ...OVERRIDES[h.name] })),
  );
}

const dir = tempDir(); // at top level: its cleanup runs when the file ends, not after the hook

before(async () => {
  const rcp = await testRecipients(join(dir, 'keys'));
  root = join(dir, 'root');
  const h = (name: string) => join(root, name);
  const healthy = (name: string) => writeChain(h(name), rcp, ago(10), [ago(3), ago(2), ago(1)], { volumes: 2 });

  await healthy('healthy.lab');
  await writeSnowflake(h('ap.lab'), rcp, 'sysupgrade-full', ago(2));
  for (const name of ['noflash.lab', 'flashless.lab']) await writeSnowflake(h(name), rcp, 'sysupgrade-full', ago(1));
  await writeSnowflake(h('ap.lab'), rcp, 'sysupgrade-full', ago(1));
  const mtd = await writeSnowflake(h('ap.lab'), rcp, 'mtd-full', ago(3), 8000);
  // sha256sum's binary mode (`<hex> *NAME`) names the file as well
  const mtdCompanion = join(h('ap.lab'), `${mtd}.sha256`);
  writeFileSync(mtdCompanion, readFileSync(mtdCompanion, 'utf8').replace('  ', ' *'));
  setMtime(h('ap.lab'), [`${mtd}.sha256`], ago(3));

  await writeChain(h('missvol.lab'), rcp, ago(10), [ago(1)], { volumes: 3 });
  rmSync(join(h('missvol.lab'), storedName(fullVolumeName(ago(10), 2), { gzip: true, cms: true })));

  await healthy('missman.lab');
  rmSync(join(h('missman.lab'), storedName(fullManifestName(ago(10)), { cms: true })));

  await healthy('misssums.lab');
  rmSync(join(h('misssums.lab'), sumsFileName(ago(2), ago(3))));

  await healthy('flip.lab');
  flipByte(join(h('flip.lab'), storedName(incVolumeName(ago(2), ago(1), 1), { gzip: true, cms: true })));

  await healthy('trunc.lab');
  const cut = join(h('trunc.lab'), storedName(fullVolumeName(ago(10), 1), { gzip: true, cms: true }));
  truncateSync(cut, 2000);

  await writeChain(h('stalefull.lab'), rcp, ago(40), [ago(20), ago(1)]);
  await writeChain(h('staleinc.lab'), rcp, ago(10), [ago(5)]);

  await writeSnowflake(h('fw.lab'), rcp, 'zroot-full', ago(20));
  await writeSnowflake(h('fw.lab'), rcp, 'zroot-inc', ago(8));
  await writeSnowflake(h('fw.lab'), rcp, 'conf-full', ago(1));

  await writeSnowflake(h('leftfull.lab'), rcp, 'zroot-full', ago(40));
  rmSync(join(h('leftfull.lab'), `${await writeSnowflake(h('leftfull.lab'), rcp, 'zroot-full', ago(5))}.sha256`));
  await writeSnowflake(h('leftfull.lab'), rcp, 'zroot-inc', ago(1));
  await writeSnowflake(h('leftfull.lab'), rcp, 'conf-full', ago(1));

  for (const [name, last] of [
    ['tiny.lab', 1000],
    ['huge.lab', 100_000],
  ] as const) {
    await writeOurSet(h(name), rcp, { time: ago(61), volumeBytes: 20_000 });
    await writeOurSet(h(name), rcp, { time: ago(31), volumeBytes: 24_000 });
    await writeOurSet(h(name), rcp, { time: ago(1), volumeBytes: last });
  }

  await writeChain(h('stranger.lab'), rcp, ago(10), [ago(1)]);

  await healthy('leftover.lab');
  const nginxTemp = join(
    h('leftover.lab'),
    `${storedName(incVolumeName(ago(1), ago(0.5), 1), { gzip: true, cms: true })}.0123456789`,
  );
  writeFileSync(nginxTemp, 'partial');
  utimesSync(nginxTemp, ago(0.5), ago(0.5));
  // a run killed while it wrote to a file:// sink
  const fileSinkTemp = join(h('leftover.lab'), `${FILE_SINK_TEMP_PREFIX}0123456789ab`);
  writeFileSync(fileSinkTemp, 'partial');
  utimesSync(fileSinkTemp, ago(0.5), ago(0.5));
  mkdirSync(join(root, '.deaddrop-tmp'));
  const sinkTemp = join(root, '.deaddrop-tmp', 'leftover.lab.0123456789abcdef.part');
  writeFileSync(sinkTemp, 'partial');
  utimesSync(sinkTemp, ago(2), ago(2));
  // an upload running right now is not a leftover
  const running = join(root, '.deaddrop-tmp', 'healthy.lab.fedcba9876543210.part');
  writeFileSync(running, 'in flight');
  utimesSync(running, NOW - 60, NOW - 60);
  const runningFileSink = join(h('healthy.lab'), `${FILE_SINK_TEMP_PREFIX}fedcba987654`);
  writeFileSync(runningFileSink, 'in flight');
  utimesSync(runningFileSink, NOW - 60, NOW - 60);
  // a minute ahead of the checker's clock is within the slack: still in progress
  const aheadFileSink = join(h('healthy.lab'), `${FILE_SINK_TEMP_PREFIX}fedcba987655`);
  writeFileSync(aheadFileSink, 'in flight');
  utimesSync(aheadFileSink, NOW + 60, NOW + 60);

  await writeChain(h('relaxed.lab'), rcp, ago(50), [ago(5)]);
  await healthy('badsums.lab');
  writeFileSync(join(h('badsums.lab'), sumsFileName(ago(1), ago(2))), 'not a sums line\n');
  await healthy('emptysums.lab');
  writeFileSync(join(h('emptysums.lab'), sumsFileName(ago(1), ago(2))), '\n  \n');
  flipByte(join(h('emptysums.lab'), storedName(incVolumeName(ago(2), ago(1), 1), { gzip: true, cms: true })));
  await healthy('aborted.lab');
  const abortedNames = await writeOurSet(h('aborted.lab'), rcp, { time: ago(0.5), startTime: ago(1) });
  for (const n of abortedNames.filter((n) => !n.includes('.vol'))) rmSync(join(h('aborted.lab'), n));
  await healthy('orphan.lab');
  await writeOurSet(h('orphan.lab'), rcp, { time: ago(0.5), startTime: ago(1.5) });
  await writeOurSet(h('broken.lab'), rcp, { time: ago(10) });
  await writeOurSet(h('broken.lab'), rcp, { time: ago(3), startTime: ago(10) });
  for (const n of await writeOurSet(h('broken.lab'), rcp, { time: ago(2), startTime: ago(3) }))
    rmSync(join(h('broken.lab'), n));
  await writeOurSet(h('broken.lab'), rcp, { time: ago(1), startTime: ago(2) });
  await healthy('futuremtime.lab');
  rmSync(join(h('futuremtime.lab'), sumsFileName(ago(1), ago(2))));
  writeFileSync(join(h('futuremtime.lab'), `${sumsFileName(ago(1), ago(2))}.0123456789`), 'partial');
  writeFileSync(join(root, '.deaddrop-tmp', 'futuremtime.lab.0123456789abcdee.part'), 'partial');
  setMtime(root, ['.deaddrop-tmp/futuremtime.lab.0123456789abcdee.part'], ago(-2));
  setMtime(h('futuremtime.lab'), readdirSync(h('futuremtime.lab')), ago(-2));
  await writeSnowflake(h('futureap.lab'), rcp, 'sysupgrade-full', ago(2));
  const unsummed = await writeSnowflake(h('futureap.lab'), rcp, 'sysupgrade-full', ago(1));
  rmSync(join(h('futureap.lab'), `${unsummed}.sha256`));
  setMtime(h('futureap.lab'), [unsummed], ago(-2));
  await writeSnowflake(h('futureap.lab'), rcp, 'mtd-full', ago(3), 8000);
  const renamed = await writeSnowflake(h('wrongname.lab'), rcp, 'sysupgrade-full', ago(1));
  const renamedCompanion = join(h('wrongname.lab'), `${renamed}.sha256`);
  writeFileSync(renamedCompanion, readFileSync(renamedCompanion, 'utf8').replace(renamed, 'some-other-file'));
  await writeSnowflake(h('wrongname.lab'), rcp, 'mtd-full', ago(3), 8000);
  await healthy('par2.lab');
  const vol1 = storedName(fullVolumeName(ago(10), 1), { gzip: true, cms: true });
  const extras = [
    `${vol1}.par2`,
    `${vol1}.vol000+01.par2`,
    `duplicity-full.${sumsFileName(ago(10)).split('.')[1]}.jsonstat`,
  ];
  for (const n of [...extras, 'photos.tar.par2', 'duplicity-full.x.jsonstat.sh'])
    writeFileSync(join(h('par2.lab'), n), 'x');
  await healthy('junk.lab');
  writeFileSync(join(h('junk.lab'), 'README.txt'), 'hello');
  writeFileSync(join(h('junk.lab'), 'df.zzzzzzzzzz.m.g'), 'x');
  await writeChain(h('future.lab'), rcp, ago(40), [ago(10)]);
  await writeOurSet(h('future.lab'), rcp, { time: ago(-30) });
  await writeSnowflake(h('futurefw.lab'), rcp, 'zroot-full', ago(20));
  await writeSnowflake(h('futurefw.lab'), rcp, 'zroot-inc', ago(8));
  await writeSnowflake(h('futurefw.lab'), rcp, 'conf-full', ago(1));
  await writeSnowflake(h('futurefw.lab'), rcp, 'zroot-inc', ago(-10));
  await writeSnowflake(h('lostfw.lab'), rcp, 'zroot-full', ago(6));
  for (const d of [3, 2, 1]) await writeSnowflake(h('lostfw.lab'), rcp, 'zroot-inc', ago(d));
  await writeSnowflake(h('lostfw.lab'), rcp, 'conf-full', ago(1));
  rmSync(join(h('lostfw.lab'), snowflakeName('zroot-inc', ago(2))));
  for (const [host, gap] of [
    ['gapfw.lab', true],
    ['oldfw.lab', false],
  ] as const) {
    await writeSnowflake(h(host), rcp, 'zroot-full', ago(6));
    // oldfw.lab: its first incremental from before the links
    await writeSnowflake(h(host), rcp, 'zroot-inc', ago(3), 3000, gap ? ago(6) : undefined);
    for (const d of [2, 1]) await writeSnowflake(h(host), rcp, 'zroot-inc', ago(d), 3000, ago(d + 1));
    await writeSnowflake(h(host), rcp, 'conf-full', ago(1));
  }
  for (const n of [snowflakeName('zroot-inc', ago(2), ago(3))]) {
    rmSync(join(h('gapfw.lab'), n));
    rmSync(join(h('gapfw.lab'), companionName(n)));
  }
  for (const host of ['oldgapfw.lab', 'lostlinkfw.lab']) {
    await writeSnowflake(h(host), rcp, 'zroot-full', ago(12));
    for (const d of [11, 10]) await writeSnowflake(h(host), rcp, 'zroot-inc', ago(d), 3000, ago(d + 1));
    await writeSnowflake(h(host), rcp, 'zroot-full', ago(6));
    for (const d of [3, 2, 1]) await writeSnowflake(h(host), rcp, 'zroot-inc', ago(d), 3000, ago(d === 3 ? 6 : d + 1));
    await writeSnowflake(h(host), rcp, 'conf-full', ago(1));
  }
  const oldInc = snowflakeName('zroot-inc', ago(11), ago(12));
  rmSync(join(h('oldgapfw.lab'), oldInc));
  rmSync(join(h('oldgapfw.lab'), companionName(oldInc)));
  rmSync(join(h('lostlinkfw.lab'), snowflakeName('zroot-inc', ago(2), ago(3)))); // its .sha256 stays
  await healthy('badname.lab');
  writeFileSync(Buffer.from(`${h('badname.lab')}/stray-\xff\xfe.bin`, 'latin1'), 'x');
  await healthy('farvol.lab');
  copyFileSync(
    join(h('farvol.lab'), storedName(fullVolumeName(ago(10), 1), { gzip: true, cms: true })),
    join(h('farvol.lab'), storedName(fullVolumeName(ago(10), 3_000_000), { gzip: true, cms: true })),
  );
  setMtime(h('farvol.lab'), [storedName(fullVolumeName(ago(10), 3_000_000), { gzip: true, cms: true })], ago(10));
  const olderInc = storedName(incVolumeName(ago(3), ago(2), 1), { gzip: true, cms: true });
  await healthy('empty.lab');
  truncateSync(join(h('empty.lab'), olderInc), 0);
  await healthy('garbage.lab');
  const garbage = join(h('garbage.lab'), olderInc);
  writeFileSync(garbage, Buffer.alloc(statSync(garbage).size, 'X'));
  await healthy('hollow.lab');
  writeFileSync(join(h('hollow.lab'), olderInc), Buffer.from([0x30, 0x00]));
  await writeSnowflake(h('cutap.lab'), rcp, 'sysupgrade-full', ago(2));
  truncateSync(join(h('cutap.lab'), await writeSnowflake(h('cutap.lab'), rcp, 'sysupgrade-full', ago(1))), 2000);
  await writeSnowflake(h('cutap.lab'), rcp, 'mtd-full', ago(3), 8000);

  await healthy('link.lab');
  symlinkSync(dir, join(h('link.lab'), 'escape'));
  mkdirSync(join(dir, 'elsewhere'));
  symlinkSync(join(dir, 'elsewhere'), h('linkdir.lab'));
  symlinkSync(join(dir, 'elsewhere'), h('straylink.lab'));
  writeFileSync(h('strayfile.lab'), 'junk');
  writeFileSync(h('filehost.lab'), 'junk');
  for (const b of [0xfe, 0xff]) mkdirSync(Buffer.concat([Buffer.from(`${root}/x`), Buffer.from([b])]));

  const kinds: Record<string, string> = {
    'ap.lab': 'openwrt',
    'noflash.lab': 'openwrt',
    'flashless.lab': 'openwrt',
    'futureap.lab': 'openwrt',
    'wrongname.lab': 'openwrt',
    'cutap.lab': 'openwrt',
    'fw.lab': 'opnsense',
    'futurefw.lab': 'opnsense',
    'lostfw.lab': 'opnsense',
    'gapfw.lab': 'opnsense',
    'oldfw.lab': 'opnsense',
    'oldgapfw.lab': 'opnsense',
    'lostlinkfw.lab': 'opnsense',
    'leftfull.lab': 'opnsense',
  };
  fleet = fleetFile(
    dir,
    Object.keys(EXPECTED)
      .filter((n) => !NOT_ENROLLED.has(n))
      .map((name) => ({ name, kind: kinds[name] ?? 'linux' })),
  );

  healthyRoot = join(dir, 'healthy-root');
  await healthy(join('..', 'healthy-root', 'manning.lab'));
  await writeSnowflake(join(healthyRoot, 'wifi.lab'), rcp, 'sysupgrade-full', ago(1));
  await writeSnowflake(join(healthyRoot, 'wifi.lab'), rcp, 'mtd-full', ago(6));
  await writeSnowflake(join(healthyRoot, 'fw.lab'), rcp, 'zroot-full', ago(25));
  await writeSnowflake(join(healthyRoot, 'fw.lab'), rcp, 'zroot-inc', ago(1));
  await writeSnowflake(join(healthyRoot, 'fw.lab'), rcp, 'conf-full', ago(0.5));
  healthyFleet = fleetFile(join(dir, 'keys'), [
    { name: 'manning.lab', kind: 'linux' },
    { name: 'wifi.lab', kind: 'openwrt' },
    { name: 'fw.lab', kind: 'opnsense' },
  ]);
});

function codes(report: CheckReport): Record<string, string[]> {
  return Object.fromEntries(report.hosts.map((h) => [h.host, h.problems.map((p) => p.code).sort()]));
}

test('--deep: the JSON report names exactly the planted anomalies, exit 1', async () => {
  const r = await runDeaddrop(['check', '--root', root, '--fleet', fleet, '--format', 'json', '--now', String(NOW)]);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as CheckReport;
  assert.deepEqual(codes(report), EXPECTED);
  assert.equal(report.mode, 'deep');
  assert.equal(report.ok, false);

  const byHost = new Map(report.hosts.map((h) => [h.host, h]));
  const healthy = byHost.get('healthy.lab')!;
  assert.deepEqual(
    [
      healthy.status,
      healthy.lastFull,
      healthy.lastIncremental,
      healthy.fullAgeDays,
      healthy.chainLength,
      healthy.newestSetComplete,
    ],
    ['ok', ago(10), ago(1), 10, 4, true],
  );
  const broken = byHost.get('broken.lab')!;
  assert.deepEqual(
    [broken.lastIncremental, broken.chainLength, broken.sets, broken.completeSets, broken.newestSetComplete],
    [ago(1), 2, 3, 2, false],
  );
  assert.match(
    broken.problems[0]!.message,
    /^inc\.\S+: the chain of full\.\S+ has no set from \S+ to \S+ \(missing or aborted\): this incremental is not restorable$/,
  );
  assert.equal(broken.problems[0]!.set, `inc.${sumsFileName(ago(1), ago(2)).split('.').slice(1, 4).join('.')}`);
  assert.equal(byHost.get('stranger.lab')!.enrolled, false);
  const flip = byHost.get('flip.lab')!.problems[0]!;
  assert.equal(flip.file, storedName(incVolumeName(ago(2), ago(1), 1), { gzip: true, cms: true }));
  assert.equal(flip.set, `inc.${flip.file!.split('.')[1]}.to.${flip.file!.split('.')[3]}`);
  assert.equal(
    byHost.get('missvol.lab')!.problems[0]!.file,
    storedName(fullVolumeName(ago(10), 2), { gzip: true, cms: true }),
  );
  const ap = byHost.get('ap.lab')!;
  assert.deepEqual(
    ap.snowflakes.map((s) => [s.kind, s.ageDays, s.sha256]),
    [
      ['sysupgrade-full', 1, 'ok'],
      ['mtd-full', 3, 'ok'],
    ],
  );
  assert.match(byHost.get('filehost.lab')!.problems[0]!.message, /filehost\.lab is a file, not a directory$/);
  assert.match(
    byHost.get('oldgapfw.lab')!.problems[0]!.message,
    new RegExp(
      `^${snowflakeName('zroot-inc', ago(10), ago(11)).replace(/\./g, '\\.')}: its base, .* \\(after ${snowflakeName('zroot-full', ago(12)).replace(/\./g, '\\.')}\\)`,
    ),
  );
  assert.match(
    byHost.get('lostlinkfw.lab')!.problems[0]!.message,
    /is there: it and every later zroot-inc of its chain/,
  );
  assert.match(
    byHost.get('emptysums.lab')!.problems[0]!.message,
    /\.sha256sums: no entries: none of the set's 4 file\(s\) is verified$/,
  );
  assert.match(byHost.get('x\\xfe')!.problems[0]!.message, /x\\xfe: directory name is not UTF-8$/);
  assert.deepEqual(
    byHost.get('par2.lab')!.problems.map((p) => p.file),
    ['duplicity-full.x.jsonstat.sh', 'photos.tar.par2'],
  );
  const wrong = byHost.get('wrongname.lab')!;
  assert.match(wrong.problems[0]!.message, /\.sha256: names some-other-file, not sysupgrade-full\.\S+\.p7m$/);
  assert.deepEqual(
    wrong.snowflakes.map((s) => [s.kind, s.sha256]),
    [
      ['sysupgrade-full', 'present'],
      ['mtd-full', 'ok'],
    ],
  );
  assert.deepEqual(
    byHost.get('cutap.lab')!.snowflakes.map((s) => [s.kind, s.sha256]),
    [
      ['sysupgrade-full', 'mismatch'],
      ['mtd-full', 'ok'],
    ],
  );
  assert.match(byHost.get('badname.lab')!.problems[0]!.message, /^stray-\uFFFD\uFFFD\.bin: not a backup file/);
  assert.deepEqual(
    byHost.get('farvol.lab')!.problems.map((p) => [p.message, p.file]),
    [
      [
        `${storedName(fullVolumeName(ago(10), 3_000_000), { gzip: true, cms: true })} is not listed in ${sumsFileName(ago(10))}: its content is not verified`,
        storedName(fullVolumeName(ago(10), 3_000_000), { gzip: true, cms: true }),
      ],
      [
        `full.${sumsFileName(ago(10)).split('.')[1]}: volumes 3-2999999 missing`,
        storedName(fullVolumeName(ago(10), 3), { gzip: true, cms: true }),
      ],
    ],
  );
  assert.deepEqual(
    byHost.get('leftover.lab')!.problems.map((p) => p.severity),
    ['warning', 'warning', 'warning'],
  );
});

test('--quick: no hashing, so the flipped byte passes; truncation is still caught by the CMS framing', async () => {
  const r = await runDeaddrop(['check', '--root', root, '--fleet', fleet, '--quick', '--json', '--now', String(NOW)]);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as CheckReport;
  assert.equal(report.mode, 'quick');
  assert.deepEqual(codes(report), { ...EXPECTED, 'flip.lab': [], 'cutap.lab': ['truncated'] });
});

test('text report: one line per host with markers, ages in days, problems indented', async () => {
  const r = await runDeaddrop(['check', '--root', root, '--fleet', fleet, '--now', String(NOW)]);
  assert.equal(r.code, 1);
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, /49 hosts, 5 ok, 8 with warnings, 36 with problems/);
  assert.ok(
    lines.some((l) => /^OK\s+healthy\.lab\s+linux\s+full 10d\s+inc 1d\s+chain 4/.test(l)),
    r.stdout,
  );
  assert.ok(lines.some((l) => /^FAIL\s+ghost\.lab/.test(l)));
  assert.ok(
    lines.some((l) => /^\s+! stale-full: newest full \S+ is 40 days old \(limit 37\)/.test(l)),
    r.stdout,
  );
  assert.ok(lines.some((l) => /^WARN\s+stranger\.lab/.test(l)));
  assert.ok(
    lines.some((l) =>
      /^\s+! stale-snowflake: newest zroot-full with its \.sha256, \S+, is 40 days old \(limit 37\)/.test(l),
    ),
    r.stdout,
  );
});

test('a healthy tree: all ok, exit 0 (text, json, prom)', async () => {
  const args = ['check', '--root', healthyRoot, '--fleet', healthyFleet, '--now', String(NOW)];
  const text = await runDeaddrop(args);
  assert.equal(text.code, 0, text.stdout + text.stderr);
  assert.match(text.stdout, /3 hosts, 3 ok, 0 with warnings, 0 with problems/);
  const json = JSON.parse((await runDeaddrop([...args, '--json'])).stdout) as CheckReport;
  assert.equal(json.ok, true);
  assert.deepEqual(codes(json), { 'fw.lab': [], 'manning.lab': [], 'wifi.lab': [] });
  const prom = await runDeaddrop([...args, '--format', 'prom']);
  assert.equal(prom.code, 0);
  assert.match(prom.stdout, /^deaddrop_check_ok 1$/m);
  assert.match(
    prom.stdout,
    new RegExp(`^deaddrop_check_last_full_timestamp_seconds\\{host="manning.lab"\\} ${ago(10)}$`, 'm'),
  );
});

test('htpasswd users as the enrolled hosts but --reader accounts; kinds guessed from the files', async () => {
  const dir = tempDir();
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(
    htpasswd,
    '# sink users\nmanning.lab:$2y$05$abcdefghijklmnopqrstuv\nwifi.lab:{SHA}x\nfw.lab:$apr1$x$y\nnew.lab:$apr1$a$b\n' +
      'admin:$2y$05$abcdefghijklmnopqrstuv\nauditor:{SHA}y\n',
  );
  // reader accounts (sink serve --reader) are no hosts: never missing-host
  const r = await runDeaddrop([
    'check',
    '--root',
    healthyRoot,
    '--htpasswd',
    htpasswd,
    '--reader',
    'admin',
    '--reader',
    'auditor',
    '--json',
    '--now',
    String(NOW),
  ]);
  assert.equal(r.code, 1);
  const report = JSON.parse(r.stdout) as CheckReport;
  assert.deepEqual(codes(report), { 'fw.lab': [], 'manning.lab': [], 'new.lab': ['missing-host'], 'wifi.lab': [] });
  assert.deepEqual(
    report.hosts.map((h) => h.kind),
    ['opnsense', 'linux', 'unknown', 'openwrt'],
  );
});

test('usage errors exit 2 with one line', async () => {
  const cases: [string[], RegExp][] = [
    [['check', '--root', root], /--fleet FILE or --htpasswd FILE/],
    [['check', '--root', join(root, 'nope'), '--fleet', fleet], /--root: .* is not a directory/],
    [['check', '--root', root, '--fleet', fleet, '--webhook', 'ftp://x'], /--webhook: .* not an http\(s\) URL/],
    // credentials in the URL are refused, and not echoed
    [
      ['check', '--root', root, '--fleet', fleet, '--webhook', 'http://user:s3cret@127.0.0.1:1/hooks/t0ken'],
      /--webhook http:\/\/127\.0\.0\.1:1: user and password in the URL are refused/,
    ],
    [
      ['check', '--root', root, '--fleet', fleet, '--webhook', 'ftp://user:s3cret@x/t0ken'],
      /--webhook: .* not an http\(s\) URL/,
    ],
    [['check', '--root', root, '--fleet', fleet, '--deep', '--quick'], /mutually exclusive|conflict/i],
    [['check', '--root', root, '--fleet', join(root, 'missing.json')], /missing\.json/],
  ];
  for (const [args, re] of cases) {
    const r = await runDeaddrop(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /s3cret|t0ken/);
  }
});
