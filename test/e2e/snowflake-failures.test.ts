import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDeaddrop } from '@deaddrop/test';
import {
  assertNoUploadTemps,
  assertStored,
  decrypt,
  makeRig,
  needs,
  needsProc,
  nowSeconds,
  runProcesses,
  replayZfsChain,
  runScript,
  SHELLS,
  sinkFiles,
  snapshots,
  stamp,
  startAnswerDroppingProxy,
  SYSUPGRADE_BYTES,
  zfsStreamBytes,
  type Rig,
} from './snowflake-rig.js';

/*
 * The snowflake scripts when things go wrong: a sink that fails after reading a body, a producer
 * or openssl that fails mid-stream, unreadable flash, runs started together, two runs in one
 * second, and the cadences of fulls and flash dumps.
 */

const mtdImage = (rig: Rig): Buffer =>
  Buffer.concat([readFileSync(join(rig.root, 'dev/mtd0')), readFileSync(join(rig.root, 'dev/mtd1'))]);

const readNumber = (file: string): number => Number(readFileSync(file, 'utf8').trim());

/** process.kill, where the process may have ended meanwhile. */
const signal = (pid: number, sig: NodeJS.Signals): void => {
  try {
    process.kill(pid, sig);
  } catch {
    // ended
  }
};

/**
 * The running script has made the directory where it sends NAME (in its temp dir, under
 * rig.dir), with FILE in it when one is named.
 */
const inSendDir = (rig: Rig, name: string, file = ''): boolean =>
  readdirSync(rig.dir).some((n) => n.startsWith('deaddrop.') && existsSync(join(rig.dir, n, name, file)));

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: a sink that answers 503 after reading the body is a failed mirror (no retry of a pipe)`,
    {
      skip: needs,
    },
    async () => {
      const rig = await makeRig('openwrt', { flaky: 'first-put' });
      try {
        const t = stamp(5);
        const r = await runScript(rig, shell, { DEADDROP_STAMP: t });
        assert.equal(r.code, 4, r.stderr);
        const names = [`sysupgrade-full.${t}.tar.gz.p7m`, `mtd-full.${t}.img.p7m`];
        for (const name of names) assert.match(r.stderr, new RegExp(`${name}: not stored on ${rig.flaky!.url}`));
        assert.match(r.stderr, /stored on 1 of 2 sinks/);
        assert.doesNotMatch(r.stderr, /stored on 2 of 2 sinks/);
        // each data file was PUT once, in full, and refused; no retry sent what was left of the pipe
        for (const name of names) {
          const puts = rig.flaky!.requests.filter((q) => q.path.endsWith(`/${name}`));
          assert.equal(puts.length, 1, `${name}: ${JSON.stringify(puts)}`);
          assert.equal(puts[0]!.status, 503);
          assert.ok(puts[0]!.bytes > 1000);
        }
        assert.deepEqual(sinkFiles(rig.flaky!, rig.host), [], 'nothing stored on the flaky sink');
        assertStored(rig, rig.sinks[0]!, names[0]!, Buffer.from(SYSUPGRADE_BYTES));
        assertStored(rig, rig.sinks[0]!, names[1]!, mtdImage(rig));
      } finally {
        await rig.stop();
      }
    },
  );
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: a sink that answers PUTs with a redirect stored nothing; the other sink gets every stream whole`,
    { skip: needs },
    async () => {
      // opnsense (zfs stream and /conf), then openwrt (sysupgrade and flash dump): shared code
      for (const kind of ['opnsense', 'openwrt'] as const) {
        const rig = await makeRig(kind, { flaky: 'redirect' });
        try {
          const t = stamp(5);
          const r = await runScript(rig, shell, { DEADDROP_STAMP: t, DEADDROP_DAY: '15' });
          assert.equal(r.code, 4, r.stderr);
          const names =
            kind === 'opnsense'
              ? [`zroot-full.${t}.zfs.p7m`, `conf-full.${t}.tar.p7m`]
              : [`sysupgrade-full.${t}.tar.gz.p7m`, `mtd-full.${t}.img.p7m`];
          for (const name of names) assert.match(r.stderr, new RegExp(`${name}: not stored on ${rig.flaky!.url}`));
          assert.doesNotMatch(r.stderr, /stored on 2 of 2 sinks/);
          assert.deepEqual(sinkFiles(rig.flaky!, rig.host), [], 'nothing stored on the redirecting sink');
          assert.ok(
            rig.flaky!.requests.every((q) => q.status === 301),
            JSON.stringify(rig.flaky!.requests),
          );
          // the redirecting sink's curl ended early: the stream to the other sink went on whole
          const plains =
            kind === 'opnsense'
              ? [zfsStreamBytes(`zroot@deaddrop-pending-${t}`, 'none'), null]
              : [Buffer.from(SYSUPGRADE_BYTES), mtdImage(rig)];
          for (const [i, name] of names.entries()) {
            const plain = plains[i] ?? decrypt(join(rig.sinks[0]!.root, rig.host, name), rig.recipient.plainKeyPath);
            assertStored(rig, rig.sinks[0]!, name, plain);
          }
          if (kind === 'opnsense')
            assert.equal(
              readFileSync(join(rig.hostState, 'zfs.lagging'), 'utf8'),
              `${rig.flaky!.url}${rig.host}/ ${names[0]}\n`,
            );
        } finally {
          await rig.stop();
        }
      }
    },
  );
}

test('a sink that answers the .sha256 PUT with a redirect has not stored the file', { skip: needs }, async () => {
  const rig = await makeRig('opnsense', { flaky: 'redirect-sha256' });
  try {
    const t = stamp(5);
    const r = await runScript(rig, ['dash'], { DEADDROP_STAMP: t }, ['conf']);
    assert.equal(r.code, 4, r.stderr);
    const name = `conf-full.${t}.tar.p7m`;
    assert.match(r.stderr, new RegExp(`${name}: not stored on ${rig.flaky!.url}`));
    assert.match(r.stderr, /stored on 1 of 2 sinks/);
    assert.deepEqual(sinkFiles(rig.flaky!, rig.host), [name], 'the file without its .sha256');
    assertStored(
      rig,
      rig.sinks[0]!,
      name,
      decrypt(join(rig.sinks[0]!.root, rig.host, name), rig.recipient.plainKeyPath),
    );
  } finally {
    await rig.stop();
  }
});

for (const [shellName, shell] of SHELLS) {
  for (const [what, env, stage] of [
    ['tee fails after openssl ended well', { TEE_CUT: '4000' }, 'tee'],
    ['sha256sum fails', { SHA256_FAIL: '1' }, 'hashing'],
  ] as const) {
    test(`${shellName}: ${what}: the file fails, no sink keeps it, no .sha256 is sent`, { skip: needs }, async () => {
      const rig = await makeRig('opnsense');
      try {
        const t = stamp(5);
        const r = await runScript(rig, shell, { DEADDROP_STAMP: t, ...env }, ['conf']);
        assert.equal(r.code, 1, r.stderr);
        const name = `conf-full.${t}.tar.p7m`;
        assert.match(r.stderr, new RegExp(`${name}: ${stage} failed; upload cut off, no .sha256 sent`));
        for (const sink of rig.sinks) {
          assert.deepEqual(sinkFiles(sink, rig.host), [], `nothing of ${name} on ${sink.url}`);
          await assertNoUploadTemps(sink);
        }
      } finally {
        await rig.stop();
      }
    });
  }
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: a TMPDIR with a space: the run uses /tmp, says so, and does not hang`,
    { skip: needs },
    async () => {
      const rig = await makeRig('opnsense');
      const tmp = join(rig.dir, 'my tmp');
      mkdirSync(tmp);
      let pid = 0;
      // (before: the run waited forever on a fifo, holding the lock)
      const timer = setTimeout(() => pid && process.kill(-pid, 'SIGKILL'), 30_000);
      try {
        const t = stamp(5);
        const r = await runScript(rig, shell, { DEADDROP_STAMP: t, TMPDIR: tmp }, ['conf'], {
          onStart: (p) => (pid = p),
        });
        assert.equal(r.code, 0, r.stderr);
        assert.match(
          r.stderr,
          /TMPDIR \(.*my tmp\) has characters other than letters, digits and \/\._\+-: using \/tmp instead/,
        );
        for (const sink of rig.sinks) assert.ok(sinkFiles(sink, rig.host).includes(`conf-full.${t}.tar.p7m.sha256`));
      } finally {
        clearTimeout(timer);
        await rig.stop();
      }
    },
  );
}

test('a .sha256 refused once is sent again whole (it is a file, not a pipe)', { skip: needs }, async () => {
  const rig = await makeRig('opnsense', { flaky: 'first-sha256' });
  try {
    const t = stamp(5);
    const r = await runScript(rig, ['busybox', 'sh'], { DEADDROP_STAMP: t }, ['conf']);
    assert.equal(r.code, 0, r.stderr);
    const name = `conf-full.${t}.tar.p7m`;
    for (const sink of [rig.sinks[0]!, rig.flaky!]) {
      assertStored(rig, sink, name, decrypt(join(rig.sinks[0]!.root, rig.host, name), rig.recipient.plainKeyPath));
    }
    const sums = rig.flaky!.requests.filter((q) => q.path.endsWith(`/${name}.sha256`));
    assert.deepEqual(
      sums.map((q) => [q.status, q.bytes]),
      [
        [503, 67 + name.length],
        [201, 67 + name.length],
      ],
    );
  } finally {
    await rig.stop();
  }
});

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: openwrt: a .sha256 the sink stored but whose answer was lost is stored, not a miss (409 on the retry)`,
    { skip: needs },
    async () => {
      const rig = await makeRig('openwrt');
      // sink 2 behind a proxy that drops the answer to the first PUT of each .sha256
      const proxy = await startAnswerDroppingProxy(rig.sinks[1]!.url);
      try {
        const fleet = JSON.parse(readFileSync(rig.fleet, 'utf8')) as { sinks: { url: string }[] };
        fleet.sinks[1]!.url = proxy.url;
        const fleetFile = join(rig.dir, 'fleet-proxy.json');
        writeFileSync(fleetFile, JSON.stringify(fleet));
        const out = join(rig.dir, 'out-proxy');
        const gen = await runDeaddrop(['snowflake', 'openwrt', '--fleet', fleetFile, '--host', rig.host, '--out', out]);
        assert.equal(gen.code, 0, gen.stderr);
        const viaProxy = { ...rig, script: join(out, 'deaddrop-openwrt.sh') };

        const t1 = stamp(10);
        let r = await runScript(viaProxy, shell, { DEADDROP_STAMP: t1 });
        assert.equal(r.code, 0, r.stderr);
        const names = [`sysupgrade-full.${t1}.tar.gz.p7m`, `mtd-full.${t1}.img.p7m`];
        for (const name of names) {
          assert.match(r.stderr, new RegExp(`${name}: stored on 2 of 2 sinks`));
          // the sink stored it (its answer lost), refused the retry as existing, and listed it
          const sums = proxy.requests.filter((q) => q.path.endsWith(`/${name}.sha256`));
          assert.deepEqual(
            sums.map((q) => [q.method, q.status, q.dropped]),
            [
              ['PUT', 201, true],
              ['PUT', 409, false],
              ['PROPFIND', 207, false],
            ],
          );
        }
        assert.doesNotMatch(r.stderr, /not stored|degraded/);
        assertStored(rig, rig.sinks[1]!, names[0]!, Buffer.from(SYSUPGRADE_BYTES));
        assertStored(rig, rig.sinks[1]!, names[1]!, mtdImage(rig));
        assert.ok(!existsSync(join(rig.hostState, 'mtd.lagging')), 'no sink lags on the flash dump');
        assert.equal(
          readFileSync(join(rig.hostState, 'mtd.sinks'), 'utf8'),
          `${rig.sinks[0]!.url}${rig.host}/\n${proxy.url}${rig.host}/\n`,
        );

        // the next run makes no flash dump: no sink is behind
        const t2 = stamp(5);
        r = await runScript(viaProxy, shell, { DEADDROP_STAMP: t2 });
        assert.equal(r.code, 0, r.stderr);
        for (const sink of rig.sinks) assert.ok(!sinkFiles(sink, rig.host).some((n) => n.startsWith(`mtd-full.${t2}`)));

        // a sink that cannot be asked (PROPFIND refused): the lost answer stays a miss, and the log says why
        proxy.refusePropfind = true;
        const t3 = stamp(1);
        r = await runScript(viaProxy, shell, { DEADDROP_STAMP: t3 });
        assert.equal(r.code, 4, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `sysupgrade-full\\.${t3}\\.tar\\.gz\\.p7m\\.sha256: the sink refused it as existing and its PROPFIND failed`,
          ),
        );
        assert.match(r.stderr, /degraded/);
      } finally {
        await proxy.stop();
        await rig.stop();
      }
    },
  );
}

for (const [shellName, shell] of SHELLS) {
  test(`${shellName}: unreadable flash fails the dump; no .sha256, mtd.last unchanged`, { skip: needs }, async () => {
    const rig = await makeRig('openwrt');
    try {
      const mtdLast = join(rig.hostState, 'mtd.last');
      mkdirSync(rig.hostState, { recursive: true });
      // (no /proc/mtd, or one without partitions: the next test)
      const cases: [string, () => void][] = [['a missing partition device', () => rmSync(join(rig.root, 'dev/mtd1'))]];
      let minutes = 30;
      for (const [what, breakIt] of cases) {
        breakIt();
        writeFileSync(mtdLast, '1000\n');
        const t = stamp((minutes -= 5));
        const r = await runScript(rig, shell, { DEADDROP_STAMP: t });
        assert.equal(r.code, 1, `${what}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`mtd-full\\.${t}\\.img\\.p7m: reading failed`), what);
        assert.equal(readFileSync(mtdLast, 'utf8'), '1000\n', `${what}: mtd.last unchanged`);
        for (const sink of rig.sinks) {
          const files = sinkFiles(sink, rig.host);
          assert.ok(!files.some((n) => n.startsWith(`mtd-full.${t}`)), `${what}: ${files.join(' ')}`);
          assert.ok(files.includes(`sysupgrade-full.${t}.tar.gz.p7m.sha256`), `${what}: the config still went`);
        }
      }
    } finally {
      await rig.stop();
    }
  });
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: no MTD flash: one line saying so and how to turn dumps off; mtdEvery "off" makes none`,
    { skip: needs },
    async () => {
      const rig = await makeRig('openwrt');
      try {
        const mtdLast = join(rig.hostState, 'mtd.last');
        const cases: [string, string, () => void][] = [
          ['no /proc/mtd (an x86 VM)', 'no \\S*/proc/mtd', () => rmSync(join(rig.root, 'proc/mtd'))],
          [
            'a /proc/mtd without partitions',
            '\\S*/proc/mtd lists no partition',
            () => writeFileSync(join(rig.root, 'proc/mtd'), 'dev: size erasesize name\n'),
          ],
        ];
        let minutes = 30;
        for (const [what, why, makeIt] of cases) {
          makeIt();
          const t = stamp((minutes -= 5));
          const r = await runScript(rig, shell, { DEADDROP_STAMP: t });
          // a failure (the fleet file says the host has flash), told in one line naming the switch
          assert.equal(r.code, 1, `${what}: ${r.stderr}`);
          const lines = r.stderr.split('\n').filter((l) => /mtd/i.test(l));
          assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
          assert.match(
            lines[0]!,
            new RegExp(`^deaddrop: no MTD flash \\(${why}\\): .*set its mtdEvery to "off"`),
            what,
          );
          assert.ok(!existsSync(mtdLast), `${what}: no mtd.last`);
          for (const sink of rig.sinks) {
            const files = sinkFiles(sink, rig.host);
            assert.ok(!files.some((n) => n.startsWith('mtd-full.')), `${what}: ${files.join(' ')}`);
            assert.ok(files.includes(`sysupgrade-full.${t}.tar.gz.p7m.sha256`), `${what}: the config still went`);
          }
        }
      } finally {
        await rig.stop();
      }
      const off = await makeRig('openwrt', { mtdEvery: 'off' });
      try {
        const script = readFileSync(off.script, 'utf8');
        assert.match(script, /^MTD_EVERY=off$/m);
        // flash there, a dump long due, and a sink behind (not in mtd.sinks): still none
        mkdirSync(off.hostState, { recursive: true });
        writeFileSync(join(off.hostState, 'mtd.last'), '1000\n');
        writeFileSync(join(off.hostState, 'mtd.sinks'), `${off.sinks[0]!.url}${off.host}/\n`);
        const t1 = stamp(10);
        let r = await runScript(off, shell, { DEADDROP_STAMP: t1 });
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stderr, /flash/);
        // and no /proc/mtd at all
        rmSync(join(off.root, 'proc/mtd'));
        const t2 = stamp(5);
        r = await runScript(off, shell, { DEADDROP_STAMP: t2 });
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stderr, /flash/);
        for (const sink of off.sinks) {
          const files = sinkFiles(sink, off.host);
          assert.ok(!files.some((n) => n.startsWith('mtd-full.')), files.join(' '));
          for (const t of [t1, t2])
            assertStored(off, sink, `sysupgrade-full.${t}.tar.gz.p7m`, Buffer.from(SYSUPGRADE_BYTES));
        }
        assert.equal(readFileSync(join(off.hostState, 'mtd.last'), 'utf8'), '1000\n', 'state left alone');
      } finally {
        await off.stop();
      }
    },
  );
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: a sysupgrade archive that is empty, no gzip or cut short is a failed file: nothing stored`,
    { skip: needs },
    async () => {
      const rig = await makeRig('openwrt');
      try {
        // under busybox, its gunzip too, as on OpenWrt
        if (shell[0] === 'busybox') {
          const busybox = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();
          symlinkSync(busybox, join(rig.bin, 'gunzip'));
        }
        const bytes = join(rig.state, 'sysupgrade.bytes');
        // each exits 0, as sysupgrade does: with nothing, with its message on a ramdisk boot, or
        // with what tar wrote before it failed
        const cases: [string, Buffer, RegExp][] = [
          ['empty', Buffer.alloc(0), /sysupgrade -b wrote nothing: no config backup/],
          [
            'a message, no archive',
            Buffer.from('Cannot save config while running from ramdisk.\n'),
            /sysupgrade -b wrote no whole gzip archive \(.+\): no config backup/,
          ],
          [
            'an archive cut short',
            SYSUPGRADE_BYTES.subarray(0, SYSUPGRADE_BYTES.length >> 1),
            /sysupgrade -b wrote no whole gzip archive \(.+\): no config backup/,
          ],
        ];
        let minutes = 30;
        for (const [what, plain, why] of cases) {
          writeFileSync(bytes, plain);
          const t = stamp((minutes -= 5));
          const r = await runScript(rig, shell, { DEADDROP_STAMP: t });
          assert.equal(r.code, 1, `${what}: ${r.stderr}`);
          assert.match(r.stderr, why, what);
          assert.match(r.stderr, new RegExp(`sysupgrade-full\\.${t}\\.tar\\.gz\\.p7m: reading failed; upload cut off`));
          for (const sink of rig.sinks) {
            const files = sinkFiles(sink, rig.host);
            assert.ok(!files.some((n) => n.startsWith(`sysupgrade-full.${t}`)), `${what}: ${files.join(' ')}`);
            await assertNoUploadTemps(sink);
          }
        }
        // the flash dump (due at the first run) went all the same; a whole archive goes again
        writeFileSync(bytes, SYSUPGRADE_BYTES);
        const t = stamp(5);
        const r = await runScript(rig, shell, { DEADDROP_STAMP: t });
        assert.equal(r.code, 0, r.stderr);
        for (const sink of rig.sinks) {
          assert.ok(sinkFiles(sink, rig.host).some((n) => /^mtd-full\..*\.sha256$/.test(n)));
          assertStored(rig, sink, `sysupgrade-full.${t}.tar.gz.p7m`, SYSUPGRADE_BYTES);
        }
      } finally {
        await rig.stop();
      }
    },
  );
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: a run stopped by TERM mid-stream stops its curls and producer: nothing stored`,
    { skip: needs },
    async () => {
      const rig = await makeRig('openwrt');
      try {
        mkdirSync(rig.hostState, { recursive: true });
        writeFileSync(join(rig.hostState, 'mtd.last'), `${nowSeconds()}\n`); // no flash dump today
        const t = stamp(5);
        const calls = join(rig.state, 'sysupgrade.calls');
        // TERM to the script alone (as `kill PID` or procd sends it) once its producer has started;
        // the run ends (close) only when every process holding its stderr has ended too
        const r = await runScript(rig, shell, { DEADDROP_STAMP: t, SYSUPGRADE_SLEEP: '3' }, [], {
          onStart: (pid) => {
            const poll = setInterval(() => {
              if (existsSync(calls)) {
                clearInterval(poll);
                process.kill(pid, 'SIGTERM');
              }
            }, 50);
          },
        });
        assert.equal(r.code, 130, r.stderr);
        for (const sink of rig.sinks) {
          const files = sinkFiles(sink, rig.host);
          assert.ok(!files.some((n) => n.startsWith(`sysupgrade-full.${t}`)), `${sink.url}: ${files.join(' ')}`);
          await assertNoUploadTemps(sink);
        }
        assert.ok(!existsSync(rig.lock), 'the lock is released');
      } finally {
        await rig.stop();
      }
    },
  );
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: TERM once a sink has the whole file: the .sha256 still goes there, the slow upload is cut off`,
    { skip: needs, timeout: 60_000 },
    async () => {
      const rig = await makeRig('openwrt', { flaky: 'hold-put' });
      try {
        mkdirSync(rig.hostState, { recursive: true });
        writeFileSync(join(rig.hostState, 'mtd.last'), `${nowSeconds()}\n`); // no flash dump today
        const t = stamp(5);
        const name = `sysupgrade-full.${t}.tar.gz.p7m`;
        const flaky = rig.flaky!;
        // TERM once sink 1 answered its PUT (ok1 in the run's temp dir says so) while sink 2, the
        // flaky one, has the start of its PUT and holds it open
        let poll: NodeJS.Timeout | undefined;
        const r = await runScript(rig, shell, { DEADDROP_STAMP: t }, [], {
          onStart: (pid) => {
            poll = setInterval(() => {
              if (!inSendDir(rig, name, 'ok1') || !flaky.requests.some((q) => q.bytes > 0)) return;
              clearInterval(poll);
              process.kill(pid, 'SIGTERM');
            }, 20);
          },
          onExit: () => clearInterval(poll),
        });
        assert.equal(r.code, 130, r.stderr);
        assertStored(rig, rig.sinks[0]!, name, Buffer.from(SYSUPGRADE_BYTES));
        // the held PUT was cut off (the client went away), nothing stored, no .sha256 tried
        assert.deepEqual(
          flaky.requests.map((q) => [q.path.split('/').pop(), q.status]),
          [[name, null]],
        );
        assert.deepEqual(sinkFiles(flaky, rig.host), []);
        assert.match(
          r.stderr,
          new RegExp(
            `stopped while sending ${name}: whole on sink\\(s\\) 1, which get its \\.sha256; the upload to sink\\(s\\) 2 is cut off`,
          ),
        );
        assert.match(r.stderr, new RegExp(`${name}: stored on 1 of 2 sinks`));
        assert.match(r.stderr, /stopped after its last file/);
        assert.ok(!existsSync(rig.lock), 'the lock is released');
      } finally {
        await rig.stop();
      }
    },
  );
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: TERM as a send starts, or at any moment after: the run ends, leaving no process and no lock`,
    { skip: needsProc, timeout: 600_000 },
    async () => {
      const rig = await makeRig('openwrt');
      const bad: string[] = [];
      try {
        mkdirSync(rig.hostState, { recursive: true });
        for (let i = 0; i < 30 && bad.length < 3; i++) {
          // every other run dumps the flash too: two sends
          writeFileSync(join(rig.hostState, 'mtd.last'), i % 2 ? '0\n' : `${nowSeconds()}\n`);
          const t = stamp(60 - i);
          // after the first send's directory appears: its pipeline starting (tee 100 ms late),
          // sending, the second send, the run ending (removing its temp dir takes 100 ms)
          const ms = 10 * i;
          let poll: NodeJS.Timeout | undefined;
          let term: NodeJS.Timeout | undefined;
          let watchdog: NodeJS.Timeout | undefined;
          let left: string[] = [];
          const env = { DEADDROP_STAMP: t, TEE_SLEEP: '0.1', RM_SLEEP: '0.1' };
          const r = await runScript(rig, shell, env, [], {
            onStart: (pid) => {
              poll = setInterval(() => {
                if (!inSendDir(rig, `sysupgrade-full.${t}.tar.gz.p7m`)) return;
                clearInterval(poll);
                term = setTimeout(() => signal(pid, 'SIGTERM'), ms);
              }, 1);
              // a run that has not ended (with every process holding its stderr) in 10 s never will
              watchdog = setTimeout(() => {
                left = runProcesses(rig);
                signal(-pid, 'SIGKILL');
              }, 10_000);
            },
            onExit: () => {
              clearInterval(poll);
              clearTimeout(term);
            },
          });
          clearTimeout(watchdog);
          if (left.length === 0) left = runProcesses(rig);
          const lockDir = readdirSync(join(rig.lock, '..'));
          if (left.length > 0 || lockDir.length > 0 || (r.code !== 130 && r.code !== 0))
            bad.push(`TERM ${ms} ms in: exit ${r.code}, left ${JSON.stringify(left)}, lock dir: ${lockDir.join(' ')}`);
          for (const p of left) signal(Number(p.split(' ')[0]), 'SIGKILL');
          rmSync(rig.lock, { recursive: true, force: true });
        }
        assert.deepEqual(bad, []);
      } finally {
        await rig.stop();
      }
    },
  );
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: a run stopped by TERM ends what it started before its lock goes: no zfs send left`,
    { skip: needsProc, timeout: 60_000 },
    async () => {
      const rig = await makeRig('opnsense');
      try {
        const t = stamp(5);
        let poll: NodeJS.Timeout | undefined;
        let atExit: string[] = [];
        let lockAtExit = true;
        const env = { DEADDROP_DAY: '15', DEADDROP_STAMP: t, ZFS_SEND_SLOW: '1' };
        const r = await runScript(rig, shell, env, [], {
          onStart: (pid) => {
            poll = setInterval(() => {
              if (!existsSync(join(rig.state, 'sending'))) return;
              clearInterval(poll);
              signal(pid, 'SIGTERM');
            }, 50);
          },
          onExit: () => {
            clearInterval(poll);
            atExit = runProcesses(rig);
            lockAtExit = existsSync(rig.lock);
          },
        });
        assert.equal(r.code, 130, r.stderr);
        // when the script ended, its lock released, nothing it started ran on
        assert.deepEqual(atExit, []);
        assert.equal(lockAtExit, false);
        // the pending snapshot is the next run's to tidy; no sink stored any of the stream
        assert.deepEqual(snapshots(rig), [`zroot@deaddrop-pending-${t}`]);
        for (const sink of rig.sinks) {
          assert.deepEqual(sinkFiles(sink, rig.host), []);
          await assertNoUploadTemps(sink);
        }
      } finally {
        await rig.stop();
      }
    },
  );
}

test(
  'opnsense: TERM once a sink has the zfs stream: it becomes the base, the /conf file is skipped',
  { skip: needs, timeout: 60_000 },
  async () => {
    const rig = await makeRig('opnsense', { flaky: 'hold-put' });
    try {
      const t = stamp(5);
      const name = `zroot-full.${t}.zfs.p7m`;
      let poll: NodeJS.Timeout | undefined;
      // a stream small enough for the pipe buffers: tee ends while the flaky sink reads none of it
      const r = await runScript(rig, ['dash'], { DEADDROP_DAY: '15', DEADDROP_STAMP: t, ZFS_SEND_BYTES: '20000' }, [], {
        onStart: (pid) => {
          poll = setInterval(() => {
            if (!inSendDir(rig, name, 'ok1') || !rig.flaky!.requests.some((q) => q.bytes > 0)) return;
            clearInterval(poll);
            process.kill(pid, 'SIGTERM');
          }, 20);
        },
        onExit: () => clearInterval(poll),
      });
      assert.equal(r.code, 130, r.stderr);
      assertStored(rig, rig.sinks[0]!, name, zfsStreamBytes(`zroot@deaddrop-pending-${t}`, 'none', 20000));
      // a stream with its .sha256 on a sink is the base a later incremental starts from
      assert.deepEqual(snapshots(rig), [`zroot@deaddrop-base-${t}`]);
      assert.match(r.stderr, new RegExp(`stopped: conf-full\\.${t}\\.tar\\.p7m and the rest of the run skipped`));
      assert.deepEqual(sinkFiles(rig.sinks[0]!, rig.host), [name, `${name}.sha256`]);
      assert.deepEqual(sinkFiles(rig.flaky!, rig.host), []);
    } finally {
      await rig.stop();
    }
  },
);

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: a run that dies on a full /tmp says so in syslog; a locked run does not`,
    { skip: needs },
    async () => {
      const rig = await makeRig('openwrt');
      const syslog = join(rig.state, 'logger');
      try {
        // set -e ends it writing the embedded certificates, before any other log line
        const r = await runScript(rig, shell, { DEADDROP_STAMP: stamp(10), TMP_FULL: '1' });
        // a failed run exits 1, though dash ends a failed redirection with status 2 (usage)
        assert.equal(r.code, 1, r.stderr);
        const logged = existsSync(syslog) ? readFileSync(syslog, 'utf8') : '';
        assert.match(logged, /^-t deaddrop -- failed \(status [12]\)$/m);
        assert.ok(!existsSync(rig.lock), 'the lock is released');
        // a run that said why it ends (here: locked) adds no such line
        rmSync(syslog);
        mkdirSync(rig.lock, { recursive: true });
        const locked = await runScript(rig, shell, { DEADDROP_STAMP: stamp(5) });
        assert.equal(locked.code, 3, locked.stderr);
        assert.doesNotMatch(readFileSync(syslog, 'utf8'), /failed/);
      } finally {
        await rig.stop();
      }
    },
  );
}

test('zfs send or openssl failing mid-stream: the sinks drop the upload, the base stays', { skip: needs }, async () => {
  const rig = await makeRig('opnsense');
  try {
    const t1 = stamp(30);
    let r = await runScript(rig, ['dash'], { DEADDROP_DAY: '15', DEADDROP_STAMP: t1 });
    assert.equal(r.code, 0, r.stderr);
    const base = `zroot@deaddrop-base-${t1}`;
    const cases: [string, Record<string, string>, string[]][] = [
      ['zfs send', { ZFS_SEND_FAIL: '1', ZFS_SEND_BYTES: '3000000' }, ['dash']],
      ['openssl', { OPENSSL_FAIL: '1' }, ['busybox', 'sh']],
    ];
    for (const [what, env, shell] of cases) {
      const t = stamp(what === 'zfs send' ? 20 : 10);
      r = await runScript(rig, shell, { DEADDROP_DAY: '15', DEADDROP_STAMP: t, ...env });
      assert.equal(r.code, 1, `${what}: ${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(`zroot-inc\\.${t1}\\.to\\.${t}\\.zfs\\.p7m: (reading|encrypting) failed; upload cut off`),
      );
      assert.deepEqual(snapshots(rig), [base], what);
      for (const sink of rig.sinks) {
        const files = sinkFiles(sink, rig.host);
        // not even a well-formed but cut-short .p7m under its final name
        assert.ok(!files.some((n) => n.startsWith(`zroot-inc.${t1}.to.${t}`)), `${what}: ${files.join(' ')}`);
        await assertNoUploadTemps(sink);
        if (what === 'zfs send') assert.ok(files.includes(`conf-full.${t}.tar.p7m.sha256`), 'conf still sent');
      }
    }
  } finally {
    await rig.stop();
  }
});

/**
 * Start `n` runs of the script at once (forked by one shell, so they start within a millisecond
 * or two of each other); resolves with their exit codes.
 */
function startTogether(rig: Rig, shell: string[], n: number, env: Record<string, string>): Promise<number[]> {
  const codes = join(rig.dir, 'codes');
  rmSync(codes, { recursive: true, force: true });
  mkdirSync(codes);
  const launcher = 'i=0; while [ "$i" -lt "$N" ]; do i=$((i + 1)); ' + '( "$@"; echo $? > "$CODES/$i" ) & done; wait';
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', launcher, 'sh', ...shell, rig.script], {
      env: {
        PATH: `${rig.bin}:${process.env.PATH}`,
        DEADDROP_ROOT: rig.root,
        TMPDIR: rig.dir,
        N: String(n),
        CODES: codes,
        ...env,
      },
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('close', () =>
      resolve(Array.from({ length: n }, (_, i) => Number(readFileSync(join(codes, String(i + 1)), 'utf8')))),
    );
  });
}

for (const [shellName, shell] of SHELLS) {
  test(`${shellName}: of 16 runs started at once exactly one runs, the others exit 3`, { skip: needs }, async () => {
    const rig = await makeRig('openwrt');
    try {
      const calls = join(rig.state, 'sysupgrade.calls');
      for (let round = 0; round < 3; round++) {
        rmSync(calls, { force: true });
        const codes = await startTogether(rig, shell, 16, { SYSUPGRADE_SLEEP: '2' });
        assert.deepEqual(
          [...codes].sort((a, b) => a - b),
          [0, ...Array<number>(15).fill(3)],
          `round ${round}: ${codes.join(' ')}`,
        );
        assert.equal(readFileSync(calls, 'utf8'), '-b -\n', `round ${round}: sysupgrade ran once`);
        assert.ok(!existsSync(rig.lock), 'the lock is released');
      }
    } finally {
      await rig.stop();
    }
  });
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: openwrt: the lock is on tmpfs, not flash; a lock it cannot write is exit 1, not locked`,
    { skip: needs },
    async () => {
      const rig = await makeRig('openwrt');
      try {
        // a lock on flash from before a power cut, its pid now some other live process
        const flashLock = join(rig.hostState, 'lock');
        mkdirSync(flashLock, { recursive: true });
        writeFileSync(join(flashLock, 'pid'), `${process.pid}\n`);
        let r = await runScript(rig, shell, { DEADDROP_STAMP: stamp(30) });
        assert.equal(r.code, 0, r.stderr);
        // the lock directory takes no pid (a full filesystem): said, and nothing left behind
        r = await runScript(rig, shell, { DEADDROP_STAMP: stamp(20), LOCK_FULL: '1' });
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /cannot write the lock in .*var\/run\/deaddrop/);
        assert.ok(!existsSync(rig.lock), 'no lock left');
        assert.deepEqual(
          readdirSync(join(rig.lock, '..')).filter((n) => n.startsWith('.lock.')),
          [],
          'no half-made lock left',
        );
        r = await runScript(rig, shell, { DEADDROP_STAMP: stamp(10) });
        assert.equal(r.code, 0, r.stderr);
      } finally {
        await rig.stop();
      }
    },
  );
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: a lock from before a reboot, its pid now another live program, does not block a run`,
    { skip: needs },
    async () => {
      // a program that got the pid of a run cut off by a power loss
      const other = spawn('sleep', ['120'], { stdio: 'ignore' });
      const staleLock = (dir: string): void => {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'pid'), `${other.pid}\n`);
        writeFileSync(join(dir, 'token'), `${other.pid} deaddrop.Xyz123\n`);
      };
      try {
        const rig = await makeRig('opnsense');
        try {
          // /var/db/deaddrop is in the snapshotted pool: a restored firewall boots with the lock
          // its last run held, so the lock is kept in /var/run, cleared at boot
          staleLock(join(rig.hostState, 'lock'));
          let r = await runScript(rig, shell, { DEADDROP_STAMP: stamp(30) }, ['conf']);
          assert.equal(r.code, 0, r.stderr);
          r = await runScript(rig, shell, { DEADDROP_STAMP: stamp(25), LOCK_FULL: '1' }, ['conf']);
          assert.equal(r.code, 1, r.stderr);
          assert.match(r.stderr, /cannot write the lock in .*var\/run\/deaddrop/);
        } finally {
          await rig.stop();
        }
        // and where the lock is, a live pid that is no run of the script is taken over
        for (const kind of ['opnsense', 'openwrt'] as const) {
          const rig = await makeRig(kind);
          try {
            const lock = join(rig.root, 'var/run/deaddrop/lock');
            staleLock(lock);
            const r = await runScript(rig, shell, { DEADDROP_STAMP: stamp(20) }, kind === 'opnsense' ? ['conf'] : []);
            assert.equal(r.code, 0, `${kind}: ${r.stderr}`);
            assert.match(
              r.stderr,
              new RegExp(`pid ${other.pid} of .* is no run of deaddrop-${kind}\\.sh \\(it runs: sleep 120\\)`),
            );
            assert.match(r.stderr, new RegExp(`taking over the stale lock of pid ${other.pid}`));
            assert.ok(!existsSync(lock), 'the lock is released');
          } finally {
            await rig.stop();
          }
        }
      } finally {
        other.kill();
      }
    },
  );
}

test(
  'a lock without a readable pid is busy for an hour, then taken over; a dead pid at once',
  {
    skip: needs,
  },
  async () => {
    const rig = await makeRig('opnsense');
    try {
      const lock = rig.lock;
      mkdirSync(lock, { recursive: true });
      let r = await runScript(rig, ['dash'], { DEADDROP_STAMP: stamp(30) }, ['conf']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /no readable pid and is less than an hour old/);
      const old = nowSeconds() - 2 * 3600;
      utimesSync(lock, old, old);
      const t = stamp(20);
      r = await runScript(rig, ['busybox', 'sh'], { DEADDROP_STAMP: t }, ['conf']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /taking over the stale lock of pid unknown/);
      assert.ok(sinkFiles(rig.sinks[0]!, rig.host).includes(`conf-full.${t}.tar.p7m.sha256`));
      // a pid that is not running
      const dead = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), `${dead}\n`);
      r = await runScript(rig, ['dash'], { DEADDROP_STAMP: stamp(10) }, ['conf']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`taking over the stale lock of pid ${dead}`));
      assert.ok(!existsSync(lock));
    } finally {
      await rig.stop();
    }
  },
);

test(
  'two conf runs in the same second both store their file (the second waits a second)',
  {
    skip: needs,
  },
  async () => {
    const rig = await makeRig('opnsense');
    try {
      // the date stub hands out these stamps in turn: the second run's first one repeats the first run's
      const [s1, s2] = [stamp(10), stamp(9)];
      const stamps = join(rig.dir, 'stamps');
      writeFileSync(stamps, `${s1}\n${s1}\n${s2}\n`);
      for (const shell of [['dash'], ['busybox', 'sh']]) {
        const r = await runScript(rig, shell, { DATE_STAMPS: stamps }, ['conf']);
        assert.equal(r.code, 0, r.stderr);
      }
      assert.equal(readFileSync(join(rig.hostState, 'stamp.last'), 'utf8'), `${s2}\n`);
      // and with the real clock, back to back
      for (const shell of [['dash'], ['busybox', 'sh']]) {
        const r = await runScript(rig, shell, {}, ['conf']);
        assert.equal(r.code, 0, r.stderr);
      }
      for (const sink of rig.sinks) {
        const sums = sinkFiles(sink, rig.host).filter((n) => n.endsWith('.sha256'));
        assert.equal(sums.length, 4, sums.join(' '));
        assert.ok(sums.includes(`conf-full.${s1}.tar.p7m.sha256`) && sums.includes(`conf-full.${s2}.tar.p7m.sha256`));
      }
    } finally {
      await rig.stop();
    }
  },
);

test(
  'opnsense: a full when the last one is over 31 days old, missing, or failed; the 1st still works',
  {
    skip: needs,
  },
  async () => {
    const rig = await makeRig('opnsense');
    const fullLast = join(rig.hostState, 'full.last');
    const run = async (minutesAgo: number, env: Record<string, string> = {}) => {
      const t = stamp(minutesAgo);
      const before = nowSeconds();
      const r = await runScript(rig, ['dash'], { DEADDROP_DAY: '15', DEADDROP_STAMP: t, ...env });
      return { t, r, before, after: nowSeconds() };
    };
    const kinds = (t: string) =>
      rig.sinks.map(
        (s) =>
          sinkFiles(s, rig.host)
            .find((n) => n.endsWith(`.${t}.zfs.p7m.sha256`))
            ?.split('.')[0],
      );
    try {
      // no base: full, and its start is recorded
      let x = await run(60);
      assert.equal(x.r.code, 0, x.r.stderr);
      assert.deepEqual(kinds(x.t), ['zroot-full', 'zroot-full']);
      let recorded = readNumber(fullLast);
      assert.ok(recorded >= x.before && recorded <= x.after, `${recorded} in [${x.before}, ${x.after}]`);
      x = await run(55);
      assert.deepEqual(kinds(x.t), ['zroot-inc', 'zroot-inc']);
      // the last full is 32 days old (its 1st failed, or the box was off): full on the 15th
      writeFileSync(fullLast, `${nowSeconds() - 32 * 86400}\n`);
      x = await run(50);
      assert.equal(x.r.code, 0, x.r.stderr);
      assert.match(x.r.stderr, /zroot-full from nothing .*\(last full started 32 days ago\)/);
      assert.deepEqual(kinds(x.t), ['zroot-full', 'zroot-full']);
      for (const sink of rig.sinks)
        assertStored(rig, sink, `zroot-full.${x.t}.zfs.p7m`, zfsStreamBytes(`zroot@deaddrop-pending-${x.t}`, 'none'));
      assert.ok(readNumber(fullLast) >= x.before);
      assert.deepEqual(snapshots(rig), [`zroot@deaddrop-base-${x.t}`]);
      // 30 days: still incrementals
      writeFileSync(fullLast, `${nowSeconds() - 30 * 86400}\n`);
      x = await run(45);
      assert.deepEqual(kinds(x.t), ['zroot-inc', 'zroot-inc']);
      // a full that reached no sink is not recorded: the next run tries again
      writeFileSync(fullLast, `${nowSeconds() - 40 * 86400}\n`);
      recorded = readNumber(fullLast);
      for (const s of rig.sinks) await s.stop();
      x = await run(40);
      assert.equal(x.r.code, 1, x.r.stderr);
      assert.equal(readNumber(fullLast), recorded);
      for (const s of rig.sinks) await s.restart();
      x = await run(35);
      assert.equal(x.r.code, 0, x.r.stderr);
      assert.deepEqual(kinds(x.t), ['zroot-full', 'zroot-full']);
      // no record at all (e.g. a script from before the record existed): a full
      rmSync(fullLast);
      x = await run(30);
      assert.match(x.r.stderr, /\(no full recorded\)/);
      assert.deepEqual(kinds(x.t), ['zroot-full', 'zroot-full']);
      // the 1st of the month, the last full from the day before: a full
      writeFileSync(fullLast, `${nowSeconds() - 86400}\n`);
      x = await run(25, { DEADDROP_DAY: '01' });
      assert.match(x.r.stderr, /\(1st of the month\)/);
      assert.deepEqual(kinds(x.t), ['zroot-full', 'zroot-full']);
      // and the day comes from the stamp itself when not forced
      writeFileSync(fullLast, `${nowSeconds() - 86400}\n`);
      x = await run(20, { DEADDROP_DAY: '', DEADDROP_STAMP: '20260301T031500Z' });
      assert.match(x.r.stderr, /\(1st of the month\)/);
    } finally {
      await rig.stop();
    }
  },
);

test('opnsense: one full on the 1st of the month; later runs that day send incrementals', { skip: needs }, async () => {
  const rig = await makeRig('opnsense');
  const fullLast = join(rig.hostState, 'full.last');
  const run = async (minutesAgo: number, day: string) => {
    const t = stamp(minutesAgo);
    const r = await runScript(rig, ['dash'], { DEADDROP_DAY: day, DEADDROP_STAMP: t });
    assert.equal(r.code, 0, r.stderr);
    return { t, r };
  };
  const kinds = (t: string) =>
    rig.sinks.map(
      (s) =>
        sinkFiles(s, rig.host)
          .find((n) => n.endsWith(`.${t}.zfs.p7m.sha256`))
          ?.split('.')[0],
    );
  try {
    let x = await run(60, '30');
    assert.deepEqual(kinds(x.t), ['zroot-full', 'zroot-full']);
    // the last full started yesterday (UTC): the first run on the 1st sends one
    writeFileSync(fullLast, `${nowSeconds() - 86400}\n`);
    x = await run(50, '01');
    assert.match(x.r.stderr, /\(1st of the month\)/);
    assert.deepEqual(kinds(x.t), ['zroot-full', 'zroot-full']);
    const recorded = readNumber(fullLast);
    // runs every few hours, or one by hand: the full of that day is enough
    for (const minutesAgo of [40, 30, 20]) {
      x = await run(minutesAgo, '01');
      assert.match(x.r.stderr, /zroot-inc from zroot@deaddrop-base-/);
      assert.deepEqual(kinds(x.t), ['zroot-inc', 'zroot-inc']);
    }
    assert.equal(readNumber(fullLast), recorded);
    assert.deepEqual(replayZfsChain(rig, rig.sinks[0]!).length, 4);
  } finally {
    await rig.stop();
  }
});

test('opnsense: a clock set back is refused: no file, the base and stamp.last stay', { skip: needs }, async () => {
  const rig = await makeRig('opnsense');
  const stamps = join(rig.dir, 'stamps');
  // the date stub's clock reads T (the day of the month comes from it)
  const run = (t: string, args: string[] = []) => {
    writeFileSync(stamps, `${t}\n`);
    return runScript(rig, ['dash'], { DATE_STAMPS: stamps }, args);
  };
  try {
    for (const t of ['20261120T031500Z', '20261121T031500Z']) {
      const r = await run(t);
      assert.equal(r.code, 0, r.stderr);
    }
    // a dead RTC battery before ntpd syncs, or a wrong manual date: the clock reads the 1st
    for (const args of [[], ['conf']]) {
      const r = await run('20261101T031500Z', args);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /the clock reads 20261101T031500Z, before the last run's 20261121T031500Z/);
    }
    for (const sink of rig.sinks)
      assert.deepEqual(
        sinkFiles(sink, rig.host).filter((n) => n.includes('20261101')),
        [],
      );
    assert.deepEqual(snapshots(rig), ['zroot@deaddrop-base-20261121T031500Z']);
    assert.equal(readFileSync(join(rig.hostState, 'stamp.last'), 'utf8'), '20261121T031500Z\n');
    // the clock set right: the chain goes on from the base
    const r = await run('20261122T031500Z');
    assert.equal(r.code, 0, r.stderr);
    for (const sink of rig.sinks)
      assert.deepEqual(replayZfsChain(rig, sink), ['20261120T031500Z', '20261121T031500Z', '20261122T031500Z']);
  } finally {
    await rig.stop();
  }
});

test(
  'opnsense: after a full, the base is the snapshot just sent, whatever the names say',
  { skip: needs },
  async () => {
    const rig = await makeRig('opnsense');
    try {
      for (const t of ['20261120T031500Z', '20261121T031500Z']) {
        const r = await runScript(rig, ['dash'], { DEADDROP_STAMP: t });
        assert.equal(r.code, 0, r.stderr);
      }
      // an explicit stamp is taken as given: one named before the base, on the 1st (a full)
      writeFileSync(join(rig.hostState, 'full.last'), `${nowSeconds() - 86400}\n`);
      const r = await runScript(rig, ['dash'], { DEADDROP_STAMP: '20261101T031500Z' });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /zroot-full from nothing .*\(1st of the month\)/);
      assert.match(r.stderr, /base is now zroot@deaddrop-base-20261101T031500Z/);
      assert.deepEqual(snapshots(rig), ['zroot@deaddrop-base-20261101T031500Z']);
      // the next incremental follows the full that reached the sinks
      const next = await runScript(rig, ['dash'], { DEADDROP_STAMP: '20261102T031500Z' });
      assert.equal(next.code, 0, next.stderr);
      assert.match(next.stderr, /zroot-inc from zroot@deaddrop-base-20261101T031500Z to/);
    } finally {
      await rig.stop();
    }
  },
);

test('openwrt: mtd.last is the start of the run, and a dump is due 7 days after it', { skip: needs }, async () => {
  const rig = await makeRig('openwrt');
  const mtdLast = join(rig.hostState, 'mtd.last');
  const dumped = (t: string) => rig.sinks.every((s) => sinkFiles(s, rig.host).includes(`mtd-full.${t}.img.p7m.sha256`));
  try {
    // sysupgrade takes 2 s: the recorded time is from before it, not the end of the dump
    const t1 = stamp(30);
    const before = nowSeconds();
    let r = await runScript(rig, ['busybox', 'sh'], { DEADDROP_STAMP: t1, SYSUPGRADE_SLEEP: '2' });
    const after = nowSeconds();
    assert.equal(r.code, 0, r.stderr);
    assert.ok(dumped(t1));
    assert.ok(after - before >= 2);
    const recorded = readNumber(mtdLast);
    assert.ok(recorded >= before && recorded <= before + 1, `${recorded}: start ${before}, end ${after}`);
    // a week to the second after the last run's start: due (the cron run a week later)
    writeFileSync(mtdLast, `${nowSeconds() - 7 * 86400}\n`);
    const t2 = stamp(20);
    r = await runScript(rig, ['dash'], { DEADDROP_STAMP: t2 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(dumped(t2));
    for (const sink of rig.sinks) assertStored(rig, sink, `mtd-full.${t2}.img.p7m`, mtdImage(rig));
    // six days: not yet
    writeFileSync(mtdLast, `${nowSeconds() - 6 * 86400}\n`);
    const t3 = stamp(10);
    r = await runScript(rig, ['dash'], { DEADDROP_STAMP: t3 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!rig.sinks.some((s) => sinkFiles(s, rig.host).some((n) => n.startsWith(`mtd-full.${t3}`))));
    // written while the clock was a year ahead: due now, and said so (not never again)
    writeFileSync(mtdLast, `${nowSeconds() + 365 * 86400}\n`);
    const t4 = stamp(5);
    r = await runScript(rig, ['busybox', 'sh'], { DEADDROP_STAMP: t4 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /mtd\.last \(\d+\) is after this run's start \(\d+\): the clock was ahead when it was written; due now/,
    );
    assert.ok(dumped(t4));
    assert.ok(readNumber(mtdLast) <= nowSeconds(), "mtd.last is this run's start");
  } finally {
    await rig.stop();
  }
});

test(
  'two certificates in one recipient file: the message has both recipients, each key decrypts',
  {
    skip: needs,
  },
  async () => {
    const rig = await makeRig('openwrt', { bundle: true });
    try {
      assert.equal(rig.recipients.length, 2);
      const t = stamp(5);
      const r = await runScript(rig, ['busybox', 'sh'], { DEADDROP_STAMP: t });
      assert.equal(r.code, 0, r.stderr);
      for (const sink of rig.sinks) {
        const file = join(sink.root, rig.host, `sysupgrade-full.${t}.tar.gz.p7m`);
        const print = spawnSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', file], {
          encoding: 'utf8',
        });
        assert.equal(print.status, 0, print.stderr);
        assert.equal(print.stdout.match(/d\.ktri:/g)?.length, 2, print.stdout);
        // assertStored decrypts with every recipient's key
        assertStored(rig, sink, `sysupgrade-full.${t}.tar.gz.p7m`, Buffer.from(SYSUPGRADE_BYTES));
        assertStored(rig, sink, `mtd-full.${t}.img.p7m`, mtdImage(rig));
      }
    } finally {
      await rig.stop();
    }
  },
);

/** Mount a small tmpfs on DIR and fill it to the last byte (a full flash overlay); null when not root. */
function fullFilesystem(dir: string, before: () => void = () => {}): (() => void) | null {
  mkdirSync(dir, { recursive: true });
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]).status !== 0) return null;
  before();
  // (head fails once the filesystem is full: that is the point)
  spawnSync('sh', ['-c', 'head -c 1000000 /dev/zero > "$1/filler"', 'sh', dir]);
  return () => spawnSync('umount', [dir]);
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: openwrt: a full flash (state unwritable) still sends both files; the state files stay whole`,
    { skip: needs },
    async (t) => {
      const rig = await makeRig('openwrt');
      const state = rig.hostState;
      const old = stamp(60);
      const sinksFile = rig.sinks.map((s) => `${s.url}${rig.host}/\n`).join('');
      const unmount = fullFilesystem(state, () => {
        // a host that has run before, its weekly dump due
        writeFileSync(join(state, 'stamp.last'), `${old}\n`);
        writeFileSync(join(state, 'mtd.last'), '1000\n');
        writeFileSync(join(state, 'mtd.sinks'), sinksFile);
      });
      if (!unmount) {
        t.skip('needs root (mount -t tmpfs)');
        await rig.stop();
        return;
      }
      try {
        const t1 = stamp(30);
        let r = await runScript(rig, shell, { DEADDROP_STAMP: t1 });
        assert.equal(r.code, 0, r.stderr);
        for (const sink of rig.sinks) {
          assertStored(rig, sink, `sysupgrade-full.${t1}.tar.gz.p7m`, Buffer.from(SYSUPGRADE_BYTES));
          assertStored(rig, sink, `mtd-full.${t1}.img.p7m`, mtdImage(rig));
        }
        for (const name of ['stamp.last', 'mtd.last', 'mtd.sinks'])
          assert.match(r.stderr, new RegExp(`cannot write \\S*/etc/deaddrop/state/${name} \\(flash full\\?\\)`), name);
        // nothing cut short, nothing half-written left
        assert.equal(readFileSync(join(state, 'stamp.last'), 'utf8'), `${old}\n`);
        assert.equal(readFileSync(join(state, 'mtd.last'), 'utf8'), '1000\n');
        assert.equal(readFileSync(join(state, 'mtd.sinks'), 'utf8'), sinksFile);
        assert.deepEqual(readdirSync(state).sort(), ['filler', 'mtd.last', 'mtd.sinks', 'stamp.last']);
        // a state file that does not exist yet cannot be made either: still both files sent
        rmSync(join(state, 'stamp.last'));
        spawnSync('sh', ['-c', 'head -c 100000 /dev/zero >> "$1/filler"', 'sh', state]);
        const t2 = stamp(20);
        r = await runScript(rig, shell, { DEADDROP_STAMP: t2 });
        assert.equal(r.code, 0, r.stderr);
        for (const sink of rig.sinks) {
          assertStored(rig, sink, `sysupgrade-full.${t2}.tar.gz.p7m`, Buffer.from(SYSUPGRADE_BYTES));
          // (mtd.last could not be moved: the dump is made again, as the log says)
          assertStored(rig, sink, `mtd-full.${t2}.img.p7m`, mtdImage(rig));
        }
        assert.match(r.stderr, /mtd\.last \(flash full\?\): the next run dumps the flash again/);
        assert.deepEqual(readdirSync(state).sort(), ['filler', 'mtd.last', 'mtd.sinks']);
      } finally {
        unmount();
        await rig.stop();
      }
    },
  );
}

for (const [shellName, shell] of SHELLS) {
  test(
    `${shellName}: a netrc that others can read, or none, is a configuration error (exit 2): nothing sent`,
    { skip: needs },
    async () => {
      const rig = await makeRig('openwrt');
      const netrc = join(rig.root, 'etc/deaddrop/netrc');
      const credentials = readFileSync(netrc);
      try {
        // as `echo ... > /etc/deaddrop/netrc` makes it under OpenWrt's umask 022
        chmodSync(netrc, 0o644);
        let r = await runScript(rig, shell, { DEADDROP_STAMP: stamp(30) });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /deaddrop: \S*\/etc\/deaddrop\/netrc is readable by others \(-rw-r--r--\): chmod 600 /);
        rmSync(netrc);
        r = await runScript(rig, shell, { DEADDROP_STAMP: stamp(20) });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /deaddrop: cannot read the netrc file \S*\/etc\/deaddrop\/netrc/);
        for (const sink of rig.sinks) assert.deepEqual(sinkFiles(sink, rig.host), []);
        assert.ok(!existsSync(rig.lock), 'no lock left');
        // mode 0600 again: the run goes
        writeFileSync(netrc, credentials, { mode: 0o600 });
        const t = stamp(10);
        r = await runScript(rig, shell, { DEADDROP_STAMP: t });
        assert.equal(r.code, 0, r.stderr);
        for (const sink of rig.sinks)
          assert.ok(sinkFiles(sink, rig.host).includes(`sysupgrade-full.${t}.tar.gz.p7m.sha256`));
      } finally {
        await rig.stop();
      }
    },
  );
}

test(
  'openwrt: after a run whose clock was ahead, the refusal says the way on: remove stamp.last',
  { skip: needs },
  async () => {
    const rig = await makeRig('openwrt');
    const stamps = join(rig.dir, 'stamps');
    const run = (t: string) => {
      writeFileSync(stamps, `${t}\n`);
      return runScript(rig, ['busybox', 'sh'], { DATE_STAMPS: stamps });
    };
    try {
      // booted with the clock ahead (sysfixtime from a file in /etc dated in the future), cron
      // ran before ntpd set it right
      let r = await run('20301101T031700Z');
      assert.equal(r.code, 0, r.stderr);
      // the clock is right now: refused, and the line says how to go on, not only "set the clock"
      r = await run('20261125T031700Z');
      assert.equal(r.code, 1, r.stderr);
      const stampLast = join(rig.hostState, 'stamp.last');
      assert.ok(r.stderr.includes(`if the clock is right, the last run's was ahead: remove ${stampLast}`), r.stderr);
      assert.ok(r.stderr.includes('the other *.last files there, dated from the clock that was ahead'), r.stderr);
      for (const sink of rig.sinks)
        assert.deepEqual(
          sinkFiles(sink, rig.host).filter((n) => n.includes('20261125')),
          [],
        );
      rmSync(stampLast);
      r = await run('20261125T031800Z');
      assert.equal(r.code, 0, r.stderr);
      for (const sink of rig.sinks)
        assert.ok(sinkFiles(sink, rig.host).includes('sysupgrade-full.20261125T031800Z.tar.gz.p7m.sha256'));
    } finally {
      await rig.stop();
    }
  },
);
