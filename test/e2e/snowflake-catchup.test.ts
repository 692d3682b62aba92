import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDeaddrop } from '@deaddrop/test';
import {
  makeRig,
  needs,
  replayZfsChain,
  runScript,
  SHELLS,
  sinkFiles,
  stamp,
  type Rig,
  type ScriptRun,
} from './snowflake-rig.js';

/*
 * OPNsense: a sink that missed a zroot stream has a gap in its chain, so every later incremental
 * is useless there. The script notes it in STATE/zfs.lagging and, once that sink answers a
 * PROPFIND again, sends a full to every sink; while it stays down, incrementals go on. A sink
 * added to the fleet has none of the chain and is caught up the same way.
 */

/** The rig host's script for a fleet of the rig's first sink alone (before a sink is added). */
async function firstSinkOnlyScript(rig: Rig, kind: 'opnsense' | 'openwrt'): Promise<string> {
  const fleet = JSON.parse(readFileSync(rig.fleet, 'utf8')) as { sinks: unknown[] };
  const oneSink = join(rig.dir, 'fleet-one.json');
  writeFileSync(oneSink, JSON.stringify({ ...fleet, sinks: fleet.sinks.slice(0, 1) }));
  const out = join(rig.dir, 'out-one');
  const gen = await runDeaddrop(['snowflake', kind, '--fleet', oneSink, '--host', rig.host, '--out', out]);
  assert.equal(gen.code, 0, gen.stderr);
  return join(out, `deaddrop-${kind}.sh`);
}

/** The zroot kind each sink stored (with its .sha256) for stamp t. */
const kinds = (rig: Rig, t: string): (string | undefined)[] =>
  rig.sinks.map(
    (s) =>
      sinkFiles(s, rig.host)
        .find((n) => n.endsWith(`.${t}.zfs.p7m.sha256`))
        ?.split('.')[0],
  );

/** The status of each PROPFIND sink i answered. */
const propfinds = (rig: Rig, i: number): number[] =>
  rig.sinks[i]!.accessLog()
    .filter((r) => r.method === 'PROPFIND')
    .map((r) => r.status);

for (const [shellName, shell] of SHELLS) {
  const daily = async (rig: Rig, t: string): Promise<ScriptRun> =>
    runScript(rig, shell, { DEADDROP_DAY: '15', DEADDROP_STAMP: t });

  test(
    `${shellName}: a sink down for one run gets a full the next day; it alone restores the latest`,
    {
      skip: needs,
    },
    async () => {
      // (the probe uses each sink's own CA, as the PUTs do: over HTTPS under busybox)
      const rig = await makeRig('opnsense', { tls: shellName === 'busybox ash' });
      const lagging = join(rig.hostState, 'zfs.lagging');
      const [t1, t2, t3, t4, t5] = [stamp(50), stamp(40), stamp(30), stamp(20), stamp(10)];
      try {
        let r = await daily(rig, t1);
        assert.equal(r.code, 0, r.stderr);
        r = await daily(rig, t2);
        assert.deepEqual(kinds(rig, t2), ['zroot-inc', 'zroot-inc']);
        assert.ok(!existsSync(lagging));

        await rig.sinks[1]!.stop();
        r = await daily(rig, t3);
        assert.equal(r.code, 4, r.stderr);
        assert.deepEqual(kinds(rig, t3), ['zroot-inc', undefined]);
        assert.equal(
          readFileSync(lagging, 'utf8'),
          `${rig.sinks[1]!.url}${rig.host}/ zroot-inc.${t2}.to.${t3}.zfs.p7m\n`,
        );

        await rig.sinks[1]!.restart();
        r = await daily(rig, t4);
        assert.equal(r.code, 0, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(`sink 2 missed zroot-inc\\.${t2}\\.to\\.${t3}\\.zfs\\.p7m: catching it up with a full`),
        );
        assert.deepEqual(kinds(rig, t4), ['zroot-full', 'zroot-full']);
        assert.ok(!existsSync(lagging), 'zfs.lagging is gone once a full reached every sink');
        assert.deepEqual(propfinds(rig, 1), [207], 'the lagging sink was probed once');
        assert.deepEqual(propfinds(rig, 0), [], 'a sink that has every stream is not probed');

        // back to incrementals, and either sink alone restores the newest state
        r = await daily(rig, t5);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(kinds(rig, t5), ['zroot-inc', 'zroot-inc']);
        assert.deepEqual(replayZfsChain(rig, rig.sinks[1]!), [t4, t5]);
        assert.deepEqual(replayZfsChain(rig, rig.sinks[0]!), [t4, t5]);
      } finally {
        await rig.stop();
      }
    },
  );

  test(
    `${shellName}: no daily full while the sink stays down; a full once it answers, even rebuilt empty`,
    {
      skip: needs,
    },
    async () => {
      const rig = await makeRig('opnsense');
      const lagging = join(rig.hostState, 'zfs.lagging');
      const [t1, t2, t3, t4, t5] = [stamp(50), stamp(40), stamp(30), stamp(20), stamp(10)];
      const line = `${rig.sinks[1]!.url}${rig.host}/ zroot-inc.${t1}.to.${t2}.zfs.p7m\n`;
      try {
        let r = await daily(rig, t1);
        assert.equal(r.code, 0, r.stderr);
        await rig.sinks[1]!.stop();
        r = await daily(rig, t2);
        assert.equal(r.code, 4, r.stderr);
        assert.equal(readFileSync(lagging, 'utf8'), line);

        // still down: an incremental, and the note stays (with the first stream it missed)
        r = await daily(rig, t3);
        assert.equal(r.code, 4, r.stderr);
        assert.deepEqual(kinds(rig, t3), ['zroot-inc', undefined]);
        assert.match(r.stderr, /sink 2 .* does not answer: it stays behind until it does/);
        assert.equal(readFileSync(lagging, 'utf8'), line);

        // it comes back rebuilt, without the host directory (PROPFIND: 404): still an answer
        rmSync(join(rig.sinks[1]!.root, rig.host), { recursive: true });
        await rig.sinks[1]!.restart();
        r = await daily(rig, t4);
        assert.equal(r.code, 0, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(`sink 2 missed zroot-inc\\.${t1}\\.to\\.${t2}\\.zfs\\.p7m: catching it up with a full`),
        );
        assert.deepEqual(kinds(rig, t4), ['zroot-full', 'zroot-full']);
        assert.ok(!existsSync(lagging));
        assert.deepEqual(propfinds(rig, 1), [404]);

        r = await daily(rig, t5);
        assert.deepEqual(kinds(rig, t5), ['zroot-inc', 'zroot-inc']);
        assert.deepEqual(replayZfsChain(rig, rig.sinks[1]!), [t4, t5]);
      } finally {
        await rig.stop();
      }
    },
  );

  test(
    `${shellName}: a sink that answers but refuses the catch-up full is retried weekly, not sent a full daily`,
    { skip: needs },
    async () => {
      // sink 2 answers PROPFIND but refuses any body over 200 kB (413): every zroot stream
      const rig = await makeRig('opnsense', { secondMaxBody: '200KB' });
      const lagging = join(rig.hostState, 'zfs.lagging');
      const [t1, t2, t3, t4, t5] = [stamp(50), stamp(40), stamp(30), stamp(20), stamp(10)];
      const fulls = (): string[] =>
        sinkFiles(rig.sinks[0]!, rig.host).filter((n) => /^zroot-full\..*\.sha256$/.test(n));
      try {
        let r = await daily(rig, t1);
        assert.equal(r.code, 4, r.stderr);
        assert.deepEqual(kinds(rig, t1), ['zroot-full', undefined]);
        assert.match(
          readFileSync(lagging, 'utf8'),
          new RegExp(`^${rig.sinks[1]!.url}${rig.host}/ zroot-full\\.${t1}\\.zfs\\.p7m \\d+ 413\n$`),
        );
        for (const t of [t2, t3]) {
          r = await daily(rig, t);
          assert.equal(r.code, 4, r.stderr);
          assert.match(
            r.stderr,
            /sink 2 \(\S+\) refuses uploads \(HTTP 413 to zroot-full\.\S+\): catching it up with a full again in \d+ days/,
          );
          assert.deepEqual(kinds(rig, t), ['zroot-inc', undefined]);
        }
        assert.deepEqual(
          fulls(),
          [`zroot-full.${t1}.zfs.p7m.sha256`],
          'no full to the healthy sink while sink 2 refuses',
        );
        // a week after the refusal: the catch-up is tried again
        const line = readFileSync(lagging, 'utf8').split(' ');
        line[2] = String(Number(line[2]) - 7 * 86400);
        writeFileSync(lagging, line.join(' '));
        r = await daily(rig, t4);
        assert.equal(r.code, 4, r.stderr);
        assert.match(r.stderr, /sink 2 missed zroot-full\.\S+: catching it up with a full/);
        assert.deepEqual(kinds(rig, t4), ['zroot-full', undefined]);
        r = await daily(rig, t5);
        assert.deepEqual(kinds(rig, t5), ['zroot-inc', undefined]);
        assert.equal(fulls().length, 2);
        assert.deepEqual(replayZfsChain(rig, rig.sinks[0]!), [t4, t5]);
      } finally {
        await rig.stop();
      }
    },
  );

  test(`${shellName}: a sink added to the fleet gets a full at the next run`, { skip: needs }, async () => {
    const rig = await makeRig('opnsense');
    const [t1, t2, t3, t4] = [stamp(40), stamp(30), stamp(20), stamp(10)];
    try {
      // the script of a fleet with sink 1 only, then the fleet's script with both
      const before = { ...rig, script: await firstSinkOnlyScript(rig, 'opnsense') };
      for (const t of [t1, t2]) assert.equal((await daily(before, t)).code, 0);
      assert.deepEqual(kinds(rig, t2), ['zroot-inc', undefined]);

      const r = await daily(rig, t3);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /sink 2 is new: catching it up with a full/);
      assert.deepEqual(kinds(rig, t3), ['zroot-full', 'zroot-full']);
      assert.ok(!existsSync(join(rig.hostState, 'zfs.lagging')));
      assert.equal((await daily(rig, t4)).code, 0);
      assert.deepEqual(replayZfsChain(rig, rig.sinks[1]!), [t3, t4], 'the new sink alone restores the latest');
    } finally {
      await rig.stop();
    }
  });

  test(
    `${shellName}: a power cut after one sink stored a stream's .sha256, before the other's: no gap`,
    { skip: needs },
    async () => {
      const rig = await makeRig('opnsense');
      const [t1, t2, t3, t4] = [stamp(30), stamp(20), stamp(15), stamp(10)];
      try {
        assert.equal((await daily(rig, t1)).code, 0);
        // sink 2's .sha256 PUT of the zroot stream is slow; everything dies once sink 1 has its own
        let pid = 0;
        const killed = runScript(
          rig,
          shell,
          { DEADDROP_DAY: '15', DEADDROP_STAMP: t2, CURL_SLOW_SHA256: `${rig.sinks[1]!.url}${rig.host}/zroot-` },
          [],
          { onStart: (p) => (pid = p) },
        );
        // (sink 1's .sha256 is stored: sink 2's PUT has begun)
        const slow = join(rig.state, 'curl-slow');
        for (let i = 0; i < 300 && !existsSync(slow); i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(existsSync(slow), "sink 2's .sha256 PUT started");
        assert.ok(sinkFiles(rig.sinks[0]!, rig.host).includes(`zroot-inc.${t1}.to.${t2}.zfs.p7m.sha256`));
        process.kill(-pid, 'SIGKILL');
        await killed;
        assert.deepEqual(kinds(rig, t2), ['zroot-inc', undefined]);
        let r = await daily(rig, t3);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /stopped after .*pending-.* reached a sink: it is the base/);
        r = await daily(rig, t4);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(replayZfsChain(rig, rig.sinks[0]!).slice(-1), [t4]);
        assert.deepEqual(replayZfsChain(rig, rig.sinks[1]!).slice(-1), [t4]);
      } finally {
        await rig.stop();
      }
    },
  );

  test(
    `${shellName}: a run killed after its stream reached the sinks, before the new base: no gap`,
    { skip: needs },
    async () => {
      const rig = await makeRig('opnsense');
      const [t1, t2, t3] = [stamp(30), stamp(20), stamp(10)];
      try {
        assert.equal((await daily(rig, t1)).code, 0);
        // killed (SIGKILL) by the zfs stub as it is asked to rename pending-t2 to base-t2
        const killed = await runScript(rig, shell, { DEADDROP_DAY: '15', DEADDROP_STAMP: t2, ZFS_RENAME_KILL: '1' });
        assert.notEqual(killed.code, 0);
        assert.deepEqual(kinds(rig, t2), ['zroot-inc', 'zroot-inc'], 'the stream reached both sinks');
        const r = await daily(rig, t3);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /stopped after .*pending-.* reached a sink: it is the base/);
        assert.deepEqual(kinds(rig, t3), ['zroot-inc', 'zroot-inc']);
        for (const sink of rig.sinks) assert.deepEqual(replayZfsChain(rig, sink), [t1, t2, t3]);
      } finally {
        await rig.stop();
      }
    },
  );
}

/*
 * OpenWrt: a sink that missed the weekly flash dump (down that day, or added to the fleet since)
 * is listed in STATE/mtd.lagging and gets a dump of its own at the next run it takes a file,
 * rather than a cadence later: the other sinks get none.
 */

/** The sinks (by index) that stored an mtd-full, with its .sha256, for stamp t. */
const dumpedOn = (rig: Rig, t: string): number[] =>
  rig.sinks.flatMap((s, i) => (sinkFiles(s, rig.host).includes(`mtd-full.${t}.img.p7m.sha256`) ? [i] : []));

for (const [shellName, shell] of SHELLS) {
  const run = async (rig: Rig, t: string): Promise<ScriptRun> => runScript(rig, shell, { DEADDROP_STAMP: t });

  test(
    `${shellName}: openwrt: a sink down on the dump day gets its own dump the first run it is back`,
    { skip: needs },
    async () => {
      const rig = await makeRig('openwrt');
      const mtdLast = join(rig.hostState, 'mtd.last');
      const lagging = join(rig.hostState, 'mtd.lagging');
      const [t1, t2, t3, t4, t5] = [stamp(50), stamp(40), stamp(30), stamp(20), stamp(10)];
      try {
        let r = await run(rig, t1);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(dumpedOn(rig, t1), [0, 1]);
        // a week later sink 2 is down on the dump day
        writeFileSync(mtdLast, `${Math.floor(Date.now() / 1000) - 7 * 86400}\n`);
        await rig.sinks[1]!.stop();
        r = await run(rig, t2);
        assert.equal(r.code, 4, r.stderr);
        assert.deepEqual(dumpedOn(rig, t2), [0]);
        const recorded = readFileSync(mtdLast, 'utf8');
        assert.equal(readFileSync(lagging, 'utf8'), `${rig.sinks[1]!.url}${rig.host}/\n`);
        // still down: no dump tried, it stays listed
        r = await run(rig, t3);
        assert.equal(r.code, 4, r.stderr);
        assert.deepEqual(dumpedOn(rig, t3), []);
        assert.match(r.stderr, /sink 2 lacks the last flash dump and missed this run's file: it stays behind/);
        assert.equal(readFileSync(lagging, 'utf8'), `${rig.sinks[1]!.url}${rig.host}/\n`);
        // back: a dump for sink 2 alone; the cadence still counts from the weekly dump
        await rig.sinks[1]!.restart();
        r = await run(rig, t4);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /sink 2 lacks the last flash dump: a dump for it/);
        assert.deepEqual(dumpedOn(rig, t4), [1]);
        assert.ok(!existsSync(lagging), 'mtd.lagging is gone once every sink has a dump');
        assert.equal(readFileSync(mtdLast, 'utf8'), recorded);
        r = await run(rig, t5);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(dumpedOn(rig, t5), []);
      } finally {
        await rig.stop();
      }
    },
  );

  test(`${shellName}: openwrt: a sink added to the fleet gets a dump at the next run`, { skip: needs }, async () => {
    const rig = await makeRig('openwrt');
    const [t1, t2, t3] = [stamp(30), stamp(20), stamp(10)];
    try {
      assert.equal((await run({ ...rig, script: await firstSinkOnlyScript(rig, 'openwrt') }, t1)).code, 0);
      assert.deepEqual(dumpedOn(rig, t1), [0]);

      let r = await run(rig, t2);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /sink 2 lacks the last flash dump: a dump for it/);
      assert.deepEqual(dumpedOn(rig, t2), [1]);
      r = await run(rig, t3);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(dumpedOn(rig, t3), []);
    } finally {
      await rig.stop();
    }
  });
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: openwrt: a sink behind on the flash dump gets its own even when sysupgrade -b fails that run`,
    { skip: needs },
    async () => {
      const rig = await makeRig('openwrt');
      try {
        const t1 = stamp(30);
        let r = await runScript(rig, shell, { DEADDROP_STAMP: t1 });
        assert.equal(r.code, 0, r.stderr);
        // sink 2 missed that dump (as if it had been down)
        const url2 = `${rig.sinks[1]!.url}${rig.host}/`;
        writeFileSync(join(rig.hostState, 'mtd.lagging'), `${url2}\n`);
        // the next run's config backup fails before any sink could take it: both sinks are up
        const t2 = stamp(20);
        r = await runScript(rig, shell, { DEADDROP_STAMP: t2, SYSUPGRADE_FAIL: '1' });
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /sink 2 lacks the last flash dump: a dump for it/);
        assert.ok(sinkFiles(rig.sinks[1]!, rig.host).includes(`mtd-full.${t2}.img.p7m.sha256`), r.stderr);
        assert.ok(!sinkFiles(rig.sinks[0]!, rig.host).some((n) => n.startsWith(`mtd-full.${t2}`)));
        assert.ok(!existsSync(join(rig.hostState, 'mtd.lagging')), 'no sink behind any more');
      } finally {
        await rig.stop();
      }
    },
  );
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: openwrt: a catch-up dump that fails is degraded, not failed: the other sink has the last dump`,
    { skip: needs },
    async () => {
      const rig = await makeRig('openwrt');
      const mtdLast = join(rig.hostState, 'mtd.last');
      const lagging = join(rig.hostState, 'mtd.lagging');
      const mtd1 = join(rig.root, 'dev/mtd1');
      const url2 = `${rig.sinks[1]!.url}${rig.host}/\n`;
      const [t1, t2, t3, t4] = [stamp(40), stamp(30), stamp(20), stamp(10)];
      try {
        let r = await runScript(rig, shell, { DEADDROP_STAMP: t1 });
        assert.equal(r.code, 0, r.stderr);
        // the weekly dump while sink 2 is down: sink 1 alone has it
        writeFileSync(mtdLast, `${Math.floor(Date.now() / 1000) - 7 * 86400}\n`);
        await rig.sinks[1]!.stop();
        r = await runScript(rig, shell, { DEADDROP_STAMP: t2 });
        assert.equal(r.code, 4, r.stderr);
        assert.deepEqual(dumpedOn(rig, t2), [0]);
        const recorded = readFileSync(mtdLast, 'utf8');
        assert.equal(readFileSync(lagging, 'utf8'), url2);

        // back, but the catch-up dump fails reading the flash (a partition device gone)
        await rig.sinks[1]!.restart();
        const flash = readFileSync(mtd1);
        rmSync(mtd1);
        r = await runScript(rig, shell, { DEADDROP_STAMP: t3 });
        assert.equal(r.code, 4, r.stderr);
        assert.match(r.stderr, /sink 2 lacks the last flash dump: a dump for it/);
        assert.match(r.stderr, new RegExp(`mtd-full\\.${t3}\\.img\\.p7m: reading failed`));
        assert.match(r.stderr, /sink 2 still lacks the last flash dump \(sink 1 has it\)/);
        assert.match(r.stderr, /degraded/);
        for (const sink of rig.sinks) {
          const files = sinkFiles(sink, rig.host);
          assert.ok(files.includes(`sysupgrade-full.${t3}.tar.gz.p7m.sha256`), files.join(' '));
          assert.ok(!files.some((n) => n.startsWith(`mtd-full.${t3}`)), files.join(' '));
        }
        assert.equal(readFileSync(lagging, 'utf8'), url2, 'sink 2 still lags');
        assert.equal(readFileSync(mtdLast, 'utf8'), recorded);

        // the flash reads again: sink 2 gets its dump, and nothing lags any more
        writeFileSync(mtd1, flash);
        r = await runScript(rig, shell, { DEADDROP_STAMP: t4 });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(dumpedOn(rig, t4), [1]);
        assert.ok(!existsSync(lagging));
      } finally {
        await rig.stop();
      }
    },
  );

  test(
    `${shellName}: openwrt: a catch-up dump for every sink that fails is a failed run: none has the last dump`,
    { skip: needs },
    async () => {
      const rig = await makeRig('openwrt');
      const t = stamp(10);
      try {
        // the last dump (this week) went to a sink no longer in the fleet
        mkdirSync(rig.hostState, { recursive: true });
        writeFileSync(join(rig.hostState, 'mtd.last'), `${Math.floor(Date.now() / 1000) - 86400}\n`);
        writeFileSync(join(rig.hostState, 'mtd.sinks'), 'http://127.0.0.1:9/webdav/ap.lab/\n');
        rmSync(join(rig.root, 'dev/mtd1'));
        const r = await runScript(rig, shell, { DEADDROP_STAMP: t });
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /sink 1 lacks the last flash dump: a dump for it/);
        assert.match(r.stderr, /sink 2 lacks the last flash dump: a dump for it/);
        for (const sink of rig.sinks) assert.ok(!sinkFiles(sink, rig.host).some((n) => n.startsWith('mtd-full.')));
        const urls = rig.sinks.map((s) => `${s.url}${rig.host}/\n`).join('');
        assert.equal(readFileSync(join(rig.hostState, 'mtd.lagging'), 'utf8'), urls);
      } finally {
        await rig.stop();
      }
    },
  );
}
