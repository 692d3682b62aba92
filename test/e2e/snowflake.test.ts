import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  makeTestRecipient,
  missingTools,
  runDeaddrop,
  startEmbeddedSink,
  tempDir,
  type RunningSink,
  type TestRecipient,
} from '@deaddrop/test';

/*
 * The generated scripts run for real under dash and busybox ash, with stub zfs / sysupgrade /
 * logger / configctl on PATH, against two `deaddrop sink serve` processes.
 */

const PASSWORD = 'snowflake-secret-Pw-4711';
const SHELLS: [string, string[]][] = [
  ['dash', ['dash']],
  ['busybox ash', ['busybox', 'sh']],
];

/** zfs stub: snapshots kept in $ZFS_STATE/snapshots, calls in $ZFS_STATE/calls. */
const ZFS_STUB = `#!/bin/sh
set -eu
s=$ZFS_STATE
touch "$s/snapshots"
echo "$*" >> "$s/calls"
cmd=$1; shift
case "$cmd" in
  list) cat "$s/snapshots" ;;
  snapshot) [ "$1" = -r ] && shift; echo "$1" >> "$s/snapshots" ;;
  destroy) [ "$1" = -r ] && shift; grep -vx "$1" "$s/snapshots" > "$s/n" || true; mv "$s/n" "$s/snapshots" ;;
  rename) [ "$1" = -r ] && shift; sed "s|^$1\\$|$2|" "$s/snapshots" > "$s/n"; mv "$s/n" "$s/snapshots" ;;
  send)
    base=none
    while [ $# -gt 1 ]; do case "$1" in -i) base=$2; shift 2 ;; *) shift ;; esac; done
    [ -n "\${ZFS_SEND_SLEEP:-}" ] && sleep "$ZFS_SEND_SLEEP"
    printf 'zfs stream of %s from %s\\n' "$1" "$base"
    yes "$1" | head -c "\${ZFS_SEND_BYTES:-300000}" ;;
  *) echo "zfs stub: $cmd?" >&2; exit 1 ;;
esac
`;

/** What the zfs stub sends for a snapshot: the test recomputes it to compare after decrypting. */
function zfsStreamBytes(snap: string, base: string, size = 300000): Buffer {
  const bulk = Buffer.from(`${snap}\n`.repeat(Math.ceil(size / (snap.length + 1)))).subarray(0, size);
  return Buffer.concat([Buffer.from(`zfs stream of ${snap} from ${base}\n`), bulk]);
}

const SYSUPGRADE_BYTES = 'sysupgrade -b of the stub\n'.repeat(2000);

function writeStubs(bin: string, state: string): void {
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(state, 'sysupgrade.bytes'), SYSUPGRADE_BYTES);
  const stubs: Record<string, string> = {
    zfs: ZFS_STUB,
    sysupgrade: `#!/bin/sh\necho "$*" >> '${state}/sysupgrade.calls'\n[ "$*" = "-b -" ] || exit 1\n[ -z "\${SYSUPGRADE_FAIL:-}" ] || { echo partial; exit 1; }\ncat '${state}/sysupgrade.bytes'\n`,
    logger: `#!/bin/sh\necho "$*" >> '${state}/logger'\n`,
    configctl: `#!/bin/sh\necho "$*" >> '${state}/configctl'\n`,
  };
  for (const [name, text] of Object.entries(stubs)) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
}

interface Rig {
  dir: string;
  root: string;
  state: string;
  bin: string;
  script: string;
  sinks: RunningSink[];
  fleet: string;
  recipient: TestRecipient;
  host: string;
}

/** Two sinks, a fleet file, the generated script, stubs and a fake host root with a netrc. */
async function makeRig(kind: 'opnsense' | 'openwrt', opts: { tls?: boolean } = {}): Promise<Rig> {
  const dir = tempDir('deaddrop-snowflake-');
  const host = kind === 'opnsense' ? 'fw.lab' : 'ap.lab';
  const sinks = [
    await startEmbeddedSink({ hosts: { [host]: PASSWORD }, tls: opts.tls }),
    await startEmbeddedSink({ hosts: { [host]: PASSWORD }, tls: opts.tls }),
  ];
  const recipient = await makeTestRecipient(join(dir, 'keys'), { bits: 2048 });
  const fleet = join(dir, 'fleet.json');
  writeFileSync(
    fleet,
    JSON.stringify({
      recipients: [recipient.certPath],
      sinks: sinks.map((s, i) => ({ name: `sink${i}`, url: s.url, ...(s.caFile ? { ca: s.caFile } : {}) })),
      hosts: [kind === 'opnsense' ? { name: host, kind, dataset: 'zroot' } : { name: host, kind, mtdEvery: '7d' }],
    }),
  );
  const out = join(dir, 'out');
  const gen = await runDeaddrop(['snowflake', kind, '--fleet', fleet, '--host', host, '--out', out]);
  assert.equal(gen.code, 0, gen.stderr);
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const bin = join(dir, 'bin');
  mkdirSync(join(root, 'etc/deaddrop'), { recursive: true });
  mkdirSync(state, { recursive: true });
  // the netrc is the only place the password lives on the host
  const netrc = `machine 127.0.0.1 login ${host} password ${PASSWORD}\n`; // both sinks listen there
  writeFileSync(join(root, 'etc/deaddrop/netrc'), netrc, { mode: 0o600 });
  if (kind === 'opnsense') {
    mkdirSync(join(root, 'conf'), { recursive: true });
    writeFileSync(join(root, 'conf/config.xml'), '<opnsense><system/></opnsense>\n');
  } else {
    mkdirSync(join(root, 'proc'), { recursive: true });
    mkdirSync(join(root, 'dev'), { recursive: true });
    writeFileSync(
      join(root, 'proc/mtd'),
      'dev:    size   erasesize  name\nmtd0: 00010000 00010000 "u-boot"\nmtd1: 00020000 00010000 "firmware"\n',
    );
    writeFileSync(join(root, 'dev/mtd0'), Buffer.alloc(0x10000, 0xa5));
    writeFileSync(join(root, 'dev/mtd1'), Buffer.from('firmware '.repeat(0x20000 / 8)).subarray(0, 0x20000));
  }
  writeStubs(bin, state);
  const script = join(out, kind === 'opnsense' ? 'deaddrop-opnsense.sh' : 'deaddrop-openwrt.sh');
  return { dir, root, state, bin, script, sinks, fleet, recipient, host };
}

/** A UTC stamp `minutesAgo` before now, as the scripts name files. */
function stamp(minutesAgo: number): string {
  return new Date(Date.now() - minutesAgo * 60000).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
}

interface ScriptRun {
  code: number | null;
  stderr: string;
  psHits: number;
  psSamples: number;
}

/** Run the script in a shell, sampling the process list for the password while it runs. */
function runScript(
  rig: Rig,
  shell: string[],
  env: Record<string, string>,
  args: string[] = [],
  opts: { onStart?: (pid: number) => void } = {},
): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(shell[0]!, [...shell.slice(1), rig.script, ...args], {
      env: {
        PATH: `${rig.bin}:${process.env.PATH}`,
        DEADDROP_ROOT: rig.root,
        ZFS_STATE: rig.state,
        TMPDIR: rig.dir,
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let psHits = 0;
    let psSamples = 0;
    let done = false;
    const sample = (): void => {
      if (done) return;
      const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      psSamples++;
      if (ps.stdout.includes(PASSWORD)) psHits++;
      setTimeout(sample, 20);
    };
    sample();
    opts.onStart?.(child.pid!);
    child.on('error', reject);
    child.on('close', (code) => {
      done = true;
      resolve({ code, stderr, psHits, psSamples });
    });
  });
}

function sinkFiles(sink: RunningSink, host: string): string[] {
  const d = join(sink.root, host);
  return existsSync(d) ? readdirSync(d).sort() : [];
}

function decrypt(rig: Rig, file: string): Buffer {
  const r = spawnSync(
    'openssl',
    ['smime', '-decrypt', '-binary', '-inform', 'DER', '-inkey', rig.recipient.plainKeyPath, '-in', file],
    { maxBuffer: 1 << 30 },
  );
  assert.equal(r.status, 0, `openssl smime -decrypt ${file}: ${r.stderr.toString()}`);
  return r.stdout;
}

/** The file is on the sink, its .sha256 verifies with sha256sum -c, and it decrypts to `plain`. */
function assertStored(rig: Rig, sink: RunningSink, name: string, plain: Buffer): void {
  const d = join(sink.root, rig.host);
  assert.ok(existsSync(join(d, name)), `${name} on ${sink.url}`);
  const companion = readFileSync(join(d, `${name}.sha256`), 'utf8');
  assert.equal(
    companion,
    `${createHash('sha256')
      .update(readFileSync(join(d, name)))
      .digest('hex')}  ${name}\n`,
  );
  const check = spawnSync('sha256sum', ['-c', `${name}.sha256`], { cwd: d, encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.ok(decrypt(rig, join(d, name)).equals(plain), `${name} decrypts to the stub's bytes`);
}

function snapshots(rig: Rig): string[] {
  const f = join(rig.state, 'snapshots');
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
}

/** Only our snowflake command should be needed; check exists when the checker is merged. */
async function assertCheckOk(rig: Rig): Promise<void> {
  for (const sink of rig.sinks) {
    const r = await runDeaddrop(['check', '--root', sink.root, '--fleet', rig.fleet, '--format', 'json']);
    assert.equal(r.code, 0, `check on ${sink.root}: ${r.stdout}${r.stderr}`);
  }
}

const needs = missingTools('dash', 'busybox', 'openssl', 'curl', 'shellcheck', 'sha256sum');

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
          const tar = decrypt(rig, join(sink.root, rig.host, `conf-full.${t1}.tar.p7m`));
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
            `zroot-inc.${t2}.zfs.p7m`,
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
          `zroot-inc.${t3}.zfs.p7m`,
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

        // 5: killed mid-stream -> base untouched; the next run tidies and sends inc from the old base
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
        for (const sink of rig.sinks)
          assertStored(
            rig,
            sink,
            `zroot-inc.${t6}.zfs.p7m`,
            zfsStreamBytes(`zroot@deaddrop-pending-${t6}`, `zroot@deaddrop-base-${t3}`),
          );
        assert.deepEqual(snapshots(rig), [`zroot@deaddrop-base-${t6}`]);

        // 6: the 1st of the month -> full again, old base destroyed after promotion
        const t7 = stamp(5);
        r = await runScript(rig, shell, { DEADDROP_DAY: '01', DEADDROP_STAMP: t7 });
        assert.equal(r.code, 0, r.stderr);
        for (const sink of rig.sinks)
          assertStored(rig, sink, `zroot-full.${t7}.zfs.p7m`, zfsStreamBytes(`zroot@deaddrop-pending-${t7}`, 'none'));
        assert.deepEqual(snapshots(rig), [`zroot@deaddrop-base-${t7}`]);
        assert.match(readFileSync(join(rig.state, 'logger'), 'utf8'), /-t deaddrop/);
      } finally {
        for (const s of rig.sinks) await s.stop().catch(() => {});
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
      writeFileSync(join(rig.root, 'etc/deaddrop/state/mtd.last'), '0\n');
      for (const s of rig.sinks) await s.stop();
      r = await runScript(rig, shell, { DEADDROP_STAMP: stamp(10) });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(readFileSync(join(rig.root, 'etc/deaddrop/state/mtd.last'), 'utf8'), '0\n');
    } finally {
      for (const s of rig.sinks) await s.stop().catch(() => {});
    }
  });
}

test('a second run while one holds the lock exits 3', { skip: needs }, async () => {
  const rig = await makeRig('opnsense');
  try {
    const first = runScript(rig, ['dash'], { DEADDROP_DAY: '15', DEADDROP_STAMP: stamp(5), ZFS_SEND_SLEEP: '3' });
    const lock = join(rig.root, 'var/db/deaddrop/lock/pid');
    while (!existsSync(lock)) await new Promise((r) => setTimeout(r, 50));
    const second = await runScript(rig, ['dash'], { DEADDROP_DAY: '15', DEADDROP_STAMP: stamp(4) });
    assert.equal(second.code, 3, second.stderr);
    assert.equal((await first).code, 0);
  } finally {
    for (const s of rig.sinks) await s.stop().catch(() => {});
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
      assert.ok(decrypt(rig, join(sink.root, rig.host, `conf-full.${t}.tar.p7m`)).includes('<opnsense>'));
    }
    assert.ok(!existsSync(join(rig.state, 'calls')), 'conf mode never calls zfs');
    const bad = await runScript(rig, ['dash'], {}, ['weekly']);
    assert.equal(bad.code, 2);
  } finally {
    for (const s of rig.sinks) await s.stop().catch(() => {});
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
    for (const s of rig.sinks) await s.stop().catch(() => {});
  }
});

test(
  'after a kill between rename and destroy the newest base wins; a failing producer is exit 1 without .sha256',
  { skip: needs },
  async () => {
    const rig = await makeRig('opnsense');
    try {
      const [a, b, c, t] = [stamp(40), stamp(30), stamp(20), stamp(10)];
      writeFileSync(
        join(rig.state, 'snapshots'),
        `zroot@deaddrop-base-${a}\nzroot@deaddrop-base-${b}\nzroot@deaddrop-pending-${c}\nzroot@other\n`,
      );
      const r = await runScript(rig, ['busybox', 'sh'], { DEADDROP_DAY: '15', DEADDROP_STAMP: t });
      assert.equal(r.code, 0, r.stderr);
      for (const sink of rig.sinks)
        assertStored(
          rig,
          sink,
          `zroot-inc.${t}.zfs.p7m`,
          zfsStreamBytes(`zroot@deaddrop-pending-${t}`, `zroot@deaddrop-base-${b}`),
        );
      assert.deepEqual(snapshots(rig), ['zroot@other', `zroot@deaddrop-base-${t}`]);
    } finally {
      for (const s of rig.sinks) await s.stop().catch(() => {});
    }
    const wrt = await makeRig('openwrt');
    try {
      const t = stamp(5);
      const r = await runScript(wrt, ['dash'], { DEADDROP_STAMP: t, SYSUPGRADE_FAIL: '1' });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /sysupgrade-full\..*reading or encrypting failed/);
      for (const sink of wrt.sinks)
        assert.ok(!sinkFiles(sink, wrt.host).includes(`sysupgrade-full.${t}.tar.gz.p7m.sha256`));
    } finally {
      for (const s of wrt.sinks) await s.stop().catch(() => {});
    }
  },
);
