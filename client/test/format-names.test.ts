import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  companionName,
  fullManifestName,
  fullSignaturesName,
  fullVolumeName,
  groupSets,
  incManifestName,
  incVolumeName,
  linkChains,
  newSignaturesName,
  parseSinkName,
  setKey,
  snowflakeName,
  storedName,
  sumsFileName,
  type SinkFileName,
} from '@deaddrop/client/format/names';
import { missingTools, tempDir } from '@deaddrop/test';

const T1 = 1700000000; // 20231114T221320Z
const T2 = 1700003600; // 20231114T231320Z
const T3 = 1700007200;

function parse(name: string): SinkFileName {
  const p = parseSinkName(name);
  assert.ok(p, `${name} should parse`);
  return p;
}

test('builders write the duplicity long names (formats §2.2) and storedName adds the layers', () => {
  assert.equal(fullVolumeName(T1, 3), 'duplicity-full.20231114T221320Z.vol3.difftar');
  assert.equal(incVolumeName(T1, T2, 1), 'duplicity-inc.20231114T221320Z.to.20231114T231320Z.vol1.difftar');
  assert.equal(fullManifestName(T1), 'duplicity-full.20231114T221320Z.manifest');
  assert.equal(incManifestName(T1, T2), 'duplicity-inc.20231114T221320Z.to.20231114T231320Z.manifest');
  assert.equal(fullSignaturesName(T1), 'duplicity-full-signatures.20231114T221320Z.sigtar');
  assert.equal(newSignaturesName(T1, T2), 'duplicity-new-signatures.20231114T221320Z.to.20231114T231320Z.sigtar');
  assert.equal(sumsFileName(T1), 'deaddrop-full.20231114T221320Z.sha256sums');
  assert.equal(sumsFileName(T2, T1), 'deaddrop-inc.20231114T221320Z.to.20231114T231320Z.sha256sums');
  assert.equal(snowflakeName('sysupgrade-full', T1), 'sysupgrade-full.20231114T221320Z.tar.gz.p7m');
  assert.equal(snowflakeName('zroot-inc', T1), 'zroot-inc.20231114T221320Z.zfs.p7m');
  assert.equal(storedName(fullVolumeName(T1, 1), { gzip: true, cms: true }), `${fullVolumeName(T1, 1)}.gz.p7m`);
  assert.equal(storedName(fullManifestName(T1), { cms: true }), `${fullManifestName(T1)}.p7m`);
  assert.equal(storedName(fullManifestName(T1), {}), fullManifestName(T1));
});

test('every built name parses back to its set, file kind, volume and layer', () => {
  const layers = [
    { suffix: '', gzip: false, encryption: 'none' },
    { suffix: '.gz', gzip: true, encryption: 'none' },
    { suffix: '.p7m', gzip: false, encryption: 'cms' },
    { suffix: '.gz.p7m', gzip: true, encryption: 'cms' },
    { suffix: '.gpg', gzip: false, encryption: 'gpg' },
  ] as const;
  const files = [
    { name: fullVolumeName(T1, 12), set: 'full', file: 'volume', time: T1, volume: 12 },
    { name: incVolumeName(T1, T2, 2), set: 'inc', file: 'volume', time: T2, startTime: T1, volume: 2 },
    { name: fullManifestName(T1), set: 'full', file: 'manifest', time: T1 },
    { name: incManifestName(T1, T2), set: 'inc', file: 'manifest', time: T2, startTime: T1 },
    { name: fullSignaturesName(T1), set: 'full', file: 'signatures', time: T1 },
    { name: newSignaturesName(T1, T2), set: 'inc', file: 'signatures', time: T2, startTime: T1 },
  ] as const;
  for (const f of files)
    for (const l of layers) {
      const p = parse(f.name + l.suffix);
      assert.equal(p.type, 'duplicity');
      if (p.type !== 'duplicity') continue;
      assert.deepEqual(
        [p.set, p.file, p.time, p.startTime, p.volume, p.suffix, p.gzip, p.encryption, p.partial, p.short],
        [
          f.set,
          f.file,
          f.time,
          'startTime' in f ? f.startTime : undefined,
          'volume' in f ? f.volume : undefined,
          l.suffix,
          l.gzip,
          l.encryption,
          false,
          false,
        ],
        f.name + l.suffix,
      );
    }
});

test('.part names are partial; short names (base 36, .z/.g/.p) parse like duplicity writes them', () => {
  const part = parse('duplicity-full.20231114T221320Z.manifest.part');
  assert.ok(part.type === 'duplicity' && part.partial && part.file === 'manifest');
  const sigPart = parse('duplicity-new-signatures.20231114T221320Z.to.20231114T231320Z.sigtar.part');
  assert.ok(sigPart.type === 'duplicity' && sigPart.partial && sigPart.set === 'inc');

  // formats §2.5 observed: 1700000000 -> s44we8, 1700003600 -> s44z68
  const vol = parse('df.s44we8.1.dt.z');
  assert.ok(vol.type === 'duplicity');
  assert.deepEqual(
    [vol.short, vol.set, vol.file, vol.time, vol.volume, vol.gzip],
    [true, 'full', 'volume', T1, 1, true],
  );
  const inc = parse('di.s44we8.s44z68.a.dt.g');
  assert.ok(inc.type === 'duplicity');
  assert.deepEqual([inc.startTime, inc.time, inc.volume, inc.encryption], [T1, T2, 10, 'gpg']);
  const man = parse('di.s44we8.s44z68.m.p');
  assert.ok(man.type === 'duplicity' && man.partial && man.file === 'manifest');
  const sigs = parse('dns.s44we8.s44z68.st.z');
  assert.ok(sigs.type === 'duplicity' && sigs.file === 'signatures' && sigs.set === 'inc');
  assert.equal(
    setKey(sigs as { set: 'inc'; time: number; startTime: number }),
    setKey({ set: 'inc', time: T2, startTime: T1 }),
  );
});

test('a short name with a time past 9999-12-31T23:59:59Z is no duplicity name (it could not be formatted)', () => {
  const last = (253402300799).toString(36);
  const after = (253402300800).toString(36);
  const ok = parse(`df.${last}.m.g`);
  assert.ok(ok.type === 'duplicity' && ok.time === 253402300799);
  for (const name of [
    `df.${after}.m.g`,
    'df.zzzzzzzzzz.m.g',
    `di.s44we8.${after}.1.dt.z`,
    `di.${after}.${after}.m`,
    `dfs.${after}.st.z`,
  ])
    assert.equal(parseSinkName(name), undefined, name);
});

test('sums, snowflake files and companions, par2 and jsonstat names are recognised', () => {
  const sums = parse('deaddrop-inc.20231114T221320Z.to.20231114T231320Z.sha256sums');
  assert.deepEqual(sums, {
    type: 'sums',
    name: 'deaddrop-inc.20231114T221320Z.to.20231114T231320Z.sha256sums',
    set: 'inc',
    time: T2,
    startTime: T1,
  });
  for (const [name, kind] of [
    ['zroot-full.20231114T221320Z.zfs.p7m', 'zroot-full'],
    ['zroot-inc.20231114T221320Z.zfs.p7m', 'zroot-inc'],
    ['conf-full.20231114T221320Z.tar.p7m', 'conf-full'],
    ['sysupgrade-full.20231114T221320Z.tar.gz.p7m', 'sysupgrade-full'],
    ['mtd-full.20231114T221320Z.img.p7m', 'mtd-full'],
  ] as const) {
    assert.deepEqual(parse(name), { type: 'snowflake', name, kind, time: T1, companion: false, dataName: name });
    const c = parse(companionName(name));
    assert.ok(c.type === 'snowflake' && c.companion && c.dataName === name && c.kind === kind);
  }
  // a linked incremental names the stream it was sent on top of: zroot-inc.T0.to.T
  const linked = 'zroot-inc.20231114T221320Z.to.20231114T231320Z.zfs.p7m';
  assert.equal(snowflakeName('zroot-inc', T2, T1), linked);
  assert.deepEqual(parse(linked), {
    type: 'snowflake',
    name: linked,
    kind: 'zroot-inc',
    time: T2,
    startTime: T1,
    companion: false,
    dataName: linked,
  });
  assert.deepEqual(parse(companionName(linked)), { ...parse(linked), name: companionName(linked), companion: true });
  for (const bad of ['zroot-full', 'conf-full']) {
    const n = `${bad}.20231114T221320Z.to.20231114T231320Z.zfs.p7m`;
    assert.equal(parseSinkName(n), undefined, n);
  }
  assert.equal(parseSinkName('mtd-full.20231114T221320Z.tar.p7m'), undefined, 'wrong extension for the kind');
  assert.deepEqual(parse('duplicity-full.20231114T221320Z.vol1.difftar.gz.par2'), {
    type: 'ignored',
    name: 'duplicity-full.20231114T221320Z.vol1.difftar.gz.par2',
    reason: 'par2',
  });
  assert.equal(parse('duplicity-full.20231114T221320Z.jsonstat.gpg').type, 'ignored');
  assert.equal(parse('dist.s44we8.s44z68.jst').type, 'ignored');
});

test('foreign and malformed names are not recognised', () => {
  for (const name of [
    'README',
    'duplicity-full.20231114T221320Z.vol0.difftar.gz', // volumes start at 1
    'duplicity-full.20231314T221320Z.vol1.difftar.gz', // month 13
    'duplicity-full.20231114T221320.vol1.difftar.gz', // no Z
    'duplicity-full.20231114T221320Z.vol1.difftar.gz.0123456789', // nginx copy temp name
    'duplicity-full.20231114T221320Z.vol1.difftar.bz2',
    'duplicity-inc.20231114T221320Z.vol1.difftar.gz',
    'deaddrop-full.20231114T221320Z.sha256sums.p7m',
    'zroot-full.20231114T221320Z.zfs',
  ])
    assert.equal(parseSinkName(name), undefined, name);
});

test('groupSets puts every file of a set together; linkChains links by exact time equality', () => {
  const names = [
    storedName(fullVolumeName(T1, 1), { gzip: true, cms: true }),
    storedName(fullVolumeName(T1, 2), { gzip: true, cms: true }),
    storedName(fullSignaturesName(T1), { gzip: true, cms: true }),
    storedName(fullManifestName(T1), { cms: true }),
    sumsFileName(T1),
    storedName(incVolumeName(T1, T2, 1), { gzip: true, cms: true }),
    storedName(incManifestName(T1, T2), { cms: true }),
    storedName(incManifestName(T2, T3), { cms: true }),
    // does not start where any chain ends: orphan
    storedName(incManifestName(T1 + 1, T3 + 5), { cms: true }),
    // volumes but no manifest: not usable for chains
    storedName(incVolumeName(T3, T3 + 10, 1), { gzip: true, cms: true }),
  ].map(parse);
  const sets = groupSets(names);
  assert.deepEqual(
    sets.map((s) => s.key),
    [
      'full.20231114T221320Z',
      'inc.20231114T221320Z.to.20231114T231320Z',
      'inc.20231114T231320Z.to.20231115T001320Z',
      'inc.20231114T221321Z.to.20231115T001325Z',
      'inc.20231115T001320Z.to.20231115T001330Z',
    ],
  );
  const full = sets[0]!;
  assert.deepEqual([...full.volumes.keys()], [1, 2]);
  assert.ok(full.manifest && full.signatures && full.sums);
  const { chains, orphans } = linkChains(sets);
  assert.equal(chains.length, 1);
  assert.deepEqual(
    chains[0]!.incs.map((s) => s.key),
    [sets[1]!.key, sets[2]!.key],
  );
  assert.equal(chains[0]!.endTime, T3);
  assert.deepEqual(
    orphans.map((s) => s.key),
    [sets[3]!.key],
  );
});

test(
  'real duplicity 0.8.22 output: every file parses and groups into one full + one inc chain',
  { skip: missingTools('duplicity') },
  () => {
    const dir = tempDir();
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.txt'), 'hello\n');
    const run = (mode: string, time: number) => {
      const r = spawnSync(
        'duplicity',
        [
          mode,
          '--no-encryption',
          '--archive-dir',
          join(dir, 'arch'),
          '--current-time',
          String(time),
          src,
          `file://${dir}/target`,
        ],
        { env: { ...process.env, HOME: dir }, encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
    };
    run('full', T1);
    writeFileSync(join(src, 'b.txt'), 'more\n');
    run('incremental', T2);
    const listing = readdirSync(join(dir, 'target'));
    assert.equal(listing.length, 6);
    const parsed = listing.map(parse);
    assert.ok(parsed.every((p) => p.type === 'duplicity' && !p.partial));
    const { chains, orphans } = linkChains(groupSets(parsed));
    assert.equal(orphans.length, 0);
    assert.equal(chains.length, 1);
    const chain = chains[0]!;
    assert.equal(chain.full.time, T1);
    assert.equal(chain.full.volumes.get(1)?.gzip, true);
    assert.equal(chain.full.manifest?.suffix, '');
    assert.equal(chain.incs[0]?.signatures?.suffix, '.gz');
    assert.equal(chain.endTime, T2);
  },
);
