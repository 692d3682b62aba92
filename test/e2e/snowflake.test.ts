import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertCheckOk,
  assertStored,
  decrypt,
  makeRig,
  needs,
  nowSeconds,
  replayZfsChain,
  runScript,
  SHELLS,
  sinkFiles,
  snapshots,
  stamp,
  SYSUPGRADE_BYTES,
  zfsStreamBytes,
} from './snowflake-rig.js';
import { runDeaddrop } from '@deaddrop/test';

/*
 * The generated scripts run for real under dash and busybox ash, with stub zfs / sysupgrade /
 * logger / configctl on PATH, against two `deaddrop sink serve` processes. The failure paths
 * (flaky sinks, failing producers, the lock, stamps, cadences): snowflake-failures.test.ts.
 */

for (const [shellName, shell] of SHELLS) {
  test(
    `opnsense under ${shellName}: full, incremental, sink down, both down, killed run`,
    { skip: needs },
    async () => {
      const rig = await makeRig('opnsense');
      const env = { DEADDROP_DAY: '15' };
      try {
        // 1: no base -> full
        const t1 = stamp(50);
        let r = await runScript(rig, shell, { ...env, DEADDROP_STAMP: t1 });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.psSamples > 0);
        assert.equal(r.psHits, 0, 'password seen in the process list');
        for (const sink of rig.sinks) {
          assertStored(rig, sink, `zroot-full.${t1}.zfs.p7m`, zfsStreamBytes(`zroot@deaddrop-pending-${t1}`, 'none'));
          const tar = decrypt(join(sink.root, rig.host, `conf-full.${t1}.tar.p7m`), rig.recipient.plainKeyPath);
          assert.ok(tar.includes('<opnsense><system/></opnsense>'), 'conf tar holds config.xml');
        }
        assert.deepEqual(snapshots(rig), [`zroot@deaddrop-base-${t1}`]);
        await assertCheckOk(rig);

        // 2: base exists -> incremental from it
        const t2 = stamp(40);
        r = await runScript(rig, shell, { ...env, DEADDROP_STAMP: t2 });
        assert.equal(r.code, 0, r.stderr);
        for (const sink of rig.sinks)
          assertStored(
            rig,
            sink,
            `zroot-inc.${t1}.to.${t2}.zfs.p7m`,
            zfsStreamBytes(`zroot@deaddrop-pending-${t2}`, `zroot@deaddrop-base-${t1}`),
          );
        assert.deepEqual(snapshots(rig), [`zroot@deaddrop-base-${t2}`]);

        // 3: one sink down -> the other gets everything, promoted, exit 4 (degraded)
        await rig.sinks[0]!.stop();
        const t3 = stamp(30);
        r = await runScript(rig, shell, { ...env, DEADDROP_STAMP: t3 });
        assert.equal(r.code, 4, r.stderr);
        assertStored(
          rig,
          rig.sinks[1]!,
          `zroot-inc.${t2}.to.${t3}.zfs.p7m`,
          zfsStreamBytes(`zroot@deaddrop-pending-${t3}`, `zroot@deaddrop-base-${t2}`),
        );
        assert.ok(existsSync(join(rig.sinks[1]!.root, rig.host, `conf-full.${t3}.tar.p7m.sha256`)));
        assert.deepEqual(snapshots(rig), [`zroot@deaddrop-base-${t3}`]);

        // 4: both down -> not promoted, exit 1
        await rig.sinks[1]!.stop();
        const t4 = stamp(20);
        r = await runScript(rig, shell, { ...env, DEADDROP_STAMP: t4 });
        assert.equal(r.code, 1, r.stderr);
        assert.deepEqual(snapshots(rig), [`zroot@deaddrop-base-${t3}`]);

        // 5: killed mid-stream -> base untouched; the next run tidies and, since sink 1 missed the
        // inc of step 3 (its chain has a gap), sends a full to both (snowflake-catchup.test.ts)
        await rig.sinks[0]!.restart();
        await rig.sinks[1]!.restart();
        const t5 = stamp(15);
        r = await runScript(rig, shell, { ...env, DEADDROP_STAMP: t5, ZFS_SEND_SLEEP: '30' }, [], {
          onStart: (pid) => {
            const poll = setInterval(() => {
              if (snapshots(rig).includes(`zroot@deaddrop-pending-${t5}`)) {
                clearInterval(poll);
                process.kill(-pid, 'SIGKILL');
              }
            }, 50);
          },
        });
        assert.equal(r.code, null);
        assert.deepEqual(snapshots(rig), [`zroot@deaddrop-base-${t3}`, `zroot@deaddrop-pending-${t5}`]);
        const t6 = stamp(10);
        r = await runScript(rig, shell, { ...env, DEADDROP_STAMP: t6 });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, new RegExp(`sink 1 missed zroot-inc\\.${t2}\\.to\\.${t3}\\.zfs\\.p7m: catching it up`));
        for (const sink of rig.sinks)
          assertStored(rig, sink, `zroot-full.${t6}.zfs.p7m`, zfsStreamBytes(`zroot@deaddrop-pending-${t6}`, 'none'));
        assert.deepEqual(snapshots(rig), [`zroot@deaddrop-base-${t6}`]);

        // 6: the 1st of the month -> full again, old base destroyed after promotion (the last full
        // is from the day before: one full on the 1st, snowflake-failures.test.ts)
        writeFileSync(join(rig.hostState, 'full.last'), `${nowSeconds() - 86400}\n`);
        const t7 = stamp(5);
        r = await runScript(rig, shell, { DEADDROP_DAY: '01', DEADDROP_STAMP: t7 });
        assert.equal(r.code, 0, r.stderr);
        for (const sink of rig.sinks)
          assertStored(rig, sink, `zroot-full.${t7}.zfs.p7m`, zfsStreamBytes(`zroot@deaddrop-pending-${t7}`, 'none'));
        assert.deepEqual(snapshots(rig), [`zroot@deaddrop-base-${t7}`]);
        assert.match(readFileSync(join(rig.state, 'logger'), 'utf8'), /-t deaddrop/);
      } finally {
        await rig.stop();
      }
    },
  );

  test(`openwrt under ${shellName}: sysupgrade daily, MTD on its cadence`, { skip: needs }, async () => {
    const rig = await makeRig('openwrt');
    try {
      const t1 = stamp(30);
      let r = await runScript(rig, shell, { DEADDROP_STAMP: t1 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.psHits, 0, 'password seen in the process list');
      const mtd = Buffer.concat([readFileSync(join(rig.root, 'dev/mtd0')), readFileSync(join(rig.root, 'dev/mtd1'))]);
      for (const sink of rig.sinks) {
        assertStored(rig, sink, `sysupgrade-full.${t1}.tar.gz.p7m`, Buffer.from(SYSUPGRADE_BYTES));
        assertStored(rig, sink, `mtd-full.${t1}.img.p7m`, mtd);
      }
      await assertCheckOk(rig);
      // within the cadence: config only
      const t2 = stamp(20);
      r = await runScript(rig, shell, { DEADDROP_STAMP: t2 });
      assert.equal(r.code, 0, r.stderr);
      for (const sink of rig.sinks) {
        assert.ok(sinkFiles(sink, rig.host).includes(`sysupgrade-full.${t2}.tar.gz.p7m.sha256`));
        assert.ok(!sinkFiles(sink, rig.host).includes(`mtd-full.${t2}.img.p7m`));
      }
      // both sinks down: exit 1, and the MTD state is not advanced
      writeFileSync(join(rig.hostState, 'mtd.last'), '0\n');
      for (const s of rig.sinks) await s.stop();
      r = await runScript(rig, shell, { DEADDROP_STAMP: stamp(10) });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(readFileSync(join(rig.hostState, 'mtd.last'), 'utf8'), '0\n');
    } finally {
      await rig.stop();
    }
  });
}

test('a second run while one holds the lock exits 3', { skip: needs }, async () => {
  const rig = await makeRig('opnsense');
  try {
    const first = runScript(rig, ['dash'], { DEADDROP_DAY: '15', DEADDROP_STAMP: stamp(5), ZFS_SEND_SLEEP: '3' });
    const lock = join(rig.lock, 'pid');
    while (!existsSync(lock)) await new Promise((r) => setTimeout(r, 50));
    const second = await runScript(rig, ['dash'], { DEADDROP_DAY: '15', DEADDROP_STAMP: stamp(4) });
    assert.equal(second.code, 3, second.stderr);
    assert.equal((await first).code, 0);
  } finally {
    await rig.stop();
  }
});

test("opnsense conf mode (the syshook) over HTTPS with each sink's own CA", { skip: needs }, async () => {
  const rig = await makeRig('opnsense', { tls: true });
  try {
    assert.match(rig.sinks[0]!.url, /^https:/);
    const t = stamp(5);
    const r = await runScript(rig, ['busybox', 'sh'], { DEADDROP_STAMP: t }, ['conf']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.psHits, 0);
    for (const sink of rig.sinks) {
      assert.deepEqual(sinkFiles(sink, rig.host), [`conf-full.${t}.tar.p7m`, `conf-full.${t}.tar.p7m.sha256`]);
      assert.ok(
        decrypt(join(sink.root, rig.host, `conf-full.${t}.tar.p7m`), rig.recipient.plainKeyPath).includes('<opnsense>'),
      );
    }
    assert.ok(!existsSync(join(rig.state, 'calls')), 'conf mode never calls zfs');
    const bad = await runScript(rig, ['dash'], {}, ['weekly']);
    assert.equal(bad.code, 2);
  } finally {
    await rig.stop();
  }
});

test('a 48 MB zfs stream passes with no temp copy (temp dir stays tiny)', { skip: needs }, async () => {
  const rig = await makeRig('opnsense');
  const size = 48 * 1024 * 1024;
  try {
    const t = stamp(5);
    let largest = 0;
    let seen = 0;
    let poll: NodeJS.Timeout | undefined;
    const r = await runScript(
      rig,
      ['dash'],
      { DEADDROP_DAY: '15', DEADDROP_STAMP: t, ZFS_SEND_BYTES: String(size) },
      [],
      {
        onStart: () => {
          poll = setInterval(() => {
            const work = readdirSync(rig.dir).filter((n) => n.startsWith('deaddrop.'));
            for (const w of work) {
              const k = Number(spawnSync('du', ['-sk', join(rig.dir, w)], { encoding: 'utf8' }).stdout.split('\t')[0]);
              if (Number.isFinite(k)) largest = Math.max(largest, k);
              seen++;
            }
          }, 100);
        },
      },
    );
    clearInterval(poll);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(seen > 0, 'the temp dir was sampled while the stream ran');
    assert.ok(largest < 256, `temp dir grew to ${largest} KiB`);
    for (const sink of rig.sinks) {
      const file = join(sink.root, rig.host, `zroot-full.${t}.zfs.p7m`);
      assert.ok(readFileSync(file).length > size);
      assertStored(rig, sink, `zroot-full.${t}.zfs.p7m`, zfsStreamBytes(`zroot@deaddrop-pending-${t}`, 'none', size));
    }
  } finally {
    await rig.stop();
  }
});

test(
  'after a kill between rename and destroy the newest base wins; a failing producer is exit 1, nothing stored',
  { skip: needs },
  async () => {
    const rig = await makeRig('opnsense');
    try {
      const [a, b, c, t] = [stamp(40), stamp(30), stamp(20), stamp(10)];
      writeFileSync(
        join(rig.state, 'snapshots'),
        `zroot@deaddrop-base-${a}\nzroot@deaddrop-base-${b}\nzroot@deaddrop-pending-${c}\nzroot@other\n`,
      );
      // a full that reached a sink 20 days ago: today is an incremental
      mkdirSync(rig.hostState, { recursive: true });
      writeFileSync(join(rig.hostState, 'full.last'), `${nowSeconds() - 20 * 86400}\n`);
      const r = await runScript(rig, ['busybox', 'sh'], { DEADDROP_DAY: '15', DEADDROP_STAMP: t });
      assert.equal(r.code, 0, r.stderr);
      for (const sink of rig.sinks)
        assertStored(
          rig,
          sink,
          `zroot-inc.${b}.to.${t}.zfs.p7m`,
          zfsStreamBytes(`zroot@deaddrop-pending-${t}`, `zroot@deaddrop-base-${b}`),
        );
      assert.deepEqual(snapshots(rig), ['zroot@other', `zroot@deaddrop-base-${t}`]);
    } finally {
      await rig.stop();
    }
    const wrt = await makeRig('openwrt');
    try {
      const t = stamp(5);
      const r = await runScript(wrt, ['dash'], { DEADDROP_STAMP: t, SYSUPGRADE_FAIL: '1' });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /sysupgrade-full\..*: reading failed; upload cut off, no \.sha256 sent/);
      // the curls were killed before the stream ended: no sink stored the upload
      for (const sink of wrt.sinks)
        assert.ok(!sinkFiles(sink, wrt.host).some((n) => n.startsWith(`sysupgrade-full.${t}`)), sink.url);
    } finally {
      await wrt.stop();
    }
  },
);

test(
  'opnsense zroot-inc names link each to its base: check sees a lost middle one, old names still pass',
  { skip: needs },
  async () => {
    const rig = await makeRig('opnsense');
    const [t1, t2, t3, t4] = [stamp(40), stamp(30), stamp(20), stamp(10)];
    try {
      for (const t of [t1, t2, t3, t4]) {
        const r = await runScript(rig, ['dash'], { DEADDROP_DAY: '15', DEADDROP_STAMP: t });
        assert.equal(r.code, 0, r.stderr);
      }
      const zroot = (sink: (typeof rig.sinks)[number]) =>
        sinkFiles(sink, rig.host).filter((n) => n.startsWith('zroot-') && !n.endsWith('.sha256'));
      for (const sink of rig.sinks) {
        assert.deepEqual(zroot(sink).sort(), [
          `zroot-full.${t1}.zfs.p7m`,
          `zroot-inc.${t1}.to.${t2}.zfs.p7m`,
          `zroot-inc.${t2}.to.${t3}.zfs.p7m`,
          `zroot-inc.${t3}.to.${t4}.zfs.p7m`,
        ]);
        assert.deepEqual(replayZfsChain(rig, sink), [t1, t2, t3, t4]);
      }
      await assertCheckOk(rig);

      // sink 2: the first incremental under its old-style name (a sink from before the links),
      // its .sha256 a bare hash: unlinked, accepted, and the next one links to its T
      const dir1 = join(rig.sinks[1]!.root, rig.host);
      const old = `zroot-inc.${t2}.zfs.p7m`;
      renameSync(join(dir1, `zroot-inc.${t1}.to.${t2}.zfs.p7m`), join(dir1, old));
      rmSync(join(dir1, `zroot-inc.${t1}.to.${t2}.zfs.p7m.sha256`));
      writeFileSync(
        join(dir1, `${old}.sha256`),
        `${createHash('sha256')
          .update(readFileSync(join(dir1, old)))
          .digest('hex')}\n`,
      );
      assert.deepEqual(replayZfsChain(rig, rig.sinks[1]!), [t1, t2, t3, t4]);

      // sink 1: the middle incremental and its .sha256 lost: the last one no longer restores there
      const dir0 = join(rig.sinks[0]!.root, rig.host);
      const middle = `zroot-inc.${t2}.to.${t3}.zfs.p7m`;
      rmSync(join(dir0, middle));
      rmSync(join(dir0, `${middle}.sha256`));
      const check = (root: string) => runDeaddrop(['check', '--root', root, '--fleet', rig.fleet, '--format', 'json']);
      const ok = await check(rig.sinks[1]!.root);
      assert.equal(ok.code, 0, `${ok.stdout}${ok.stderr}`);
      const r = await check(rig.sinks[0]!.root);
      assert.notEqual(r.code, 0, r.stdout);
      const problems = (JSON.stringify(JSON.parse(r.stdout)).match(/"code":"[a-z-]+"/g) ?? []).sort();
      assert.deepEqual(problems, ['"code":"broken-chain"'], r.stdout);
      assert.match(
        r.stdout,
        new RegExp(
          `zroot-inc\\.${t3}\\.to\\.${t4}\\.zfs\\.p7m: its base, the zroot-full or zroot-inc of ${t3}, is not on this sink`,
        ),
      );
    } finally {
      await rig.stop();
    }
  },
);
