/**
 * Mirrored delivery to two real `deaddrop sink serve` processes on 127.0.0.1 (issue 5): both
 * up; one down for two runs and caught up; killed in the middle of a volume; out of space
 * (507); slow; both down. After each: no data lost, nothing half-visible on a sink, only PUT
 * and PROPFIND sent, no password in argv, logs, state or metrics; a netrc of the wrong mode is
 * exit 2.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import {
  deaddropArgv,
  isRoot,
  missingTools,
  runDeaddrop,
  startEmbeddedSink,
  tempDir,
  type RunningSink,
} from '@deaddrop/test';
import {
  assertNoHalfSets,
  assertSumsVerify,
  backup,
  type BackupOutcome,
  everythingVisible,
  HOST,
  hostDir,
  hostOnTwoSinks,
  makeHost,
  PASSWORD,
  sinkContents,
  sinkUrl,
  throttleProxy,
  twoSinks,
} from './mirror-helpers.js';

const skip = missingTools('sha256sum', 'openssl', 'ps');
const rawAccessLog = (s: RunningSink) => {
  const f = join(dirname(s.root), 'access.log');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
};

function assertOnlyPutAndPropfind(...sinks: RunningSink[]): void {
  for (const s of sinks) {
    const methods = new Set(s.methodsLog());
    assert.ok(methods.has('PUT'), 'the sink saw uploads');
    for (const m of methods) assert.ok(m === 'PUT' || m === 'PROPFIND', `${s.url}: client sent ${m}`);
  }
}

function assertIdentical(a: RunningSink, b: RunningSink): void {
  const ca = sinkContents(hostDir(a));
  assert.ok(ca.size > 0);
  assert.deepEqual(sinkContents(hostDir(b)), ca);
  assertSumsVerify(hostDir(a));
  assertSumsVerify(hostDir(b));
}

test(
  'both sinks up: identical files on both, sha256sum -c on each; no secret in argv, logs, state or metrics',
  { skip },
  async () => {
    const { a, b, host } = await hostOnTwoSinks();
    try {
      // Watch every process's argv while the first run is going on.
      const [cmd, ...pre] = deaddropArgv();
      const child = spawn(cmd!, [...pre, 'backup', '--config', host.config, '--json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      let running = true;
      void exited.then(() => (running = false));
      const psSeen: string[] = [];
      let sawBackup = false;
      while (running) {
        const ps = spawnSync('ps', ['-eo', 'args', '--no-headers'], { encoding: 'utf8' }).stdout;
        psSeen.push(ps);
        if (ps.includes(host.config)) sawBackup = true;
        await new Promise((r) => setTimeout(r, 20));
      }
      const code = await exited;
      assert.equal(code, 0, stderr);
      assert.ok(sawBackup, 'ps saw the backup process');
      assert.ok(!psSeen.join('\n').includes(PASSWORD), 'password in some argv');
      const first: BackupOutcome = {
        run: { code, signal: null, stdout, stderr },
        code,
        result: JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, never>,
      };
      assert.equal(first.result.result, 'ok');
      assert.equal(first.result.spoolBytes, 0);
      for (const name of ['a', 'b']) {
        const d = first.result.delivery[name];
        assert.equal(d.ok, true);
        assert.equal(d.created, first.result.files.length);
        assert.equal(d.bytes, first.result.storedBytes);
      }
      host.change(1);
      const second = await backup(host);
      assert.equal(second.code, 0, second.run.stderr);
      assert.equal(second.result.type, 'inc');
      assertIdentical(a, b);
      assertOnlyPutAndPropfind(a, b);
      // Nothing waits in the spool once both have everything.
      assert.deepEqual(readdirSync(join(host.archive, 'outgoing')), []);
      const visible = everythingVisible(host, [first, second], [rawAccessLog(a), rawAccessLog(b)]);
      assert.ok(!visible.includes(PASSWORD), 'password in output, state, ledger, metrics or sink logs');
      assert.ok(!visible.includes(Buffer.from(`${HOST}:${PASSWORD}`).toString('base64')), 'encoded credentials leaked');
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);

test(
  'sink B down for two runs: both exit 4, B gets every missed set at the next run, then both are identical',
  { skip },
  async () => {
    const { a, b, host } = await hostOnTwoSinks();
    try {
      const full = await backup(host);
      assert.equal(full.code, 0, full.run.stderr);
      await b.stop();
      const missed: string[] = [];
      for (const step of [1, 2]) {
        host.change(step);
        const r = await backup(host);
        assert.equal(r.code, 4, r.run.stderr);
        assert.equal(r.result.result, 'degraded');
        assert.equal(r.result.delivery.a.ok, true);
        assert.equal(r.result.delivery.b.ok, false);
        missed.push(r.result.set as string);
        assert.deepEqual(r.result.delivery.b.lagging, missed);
        assert.ok(r.result.spoolBytes > 0);
        assertNoHalfSets(hostDir(b));
      }
      const ledger = JSON.parse(readFileSync(join(host.archive, 'ledger', 'b.json'), 'utf8')) as {
        confirmed: string[];
      };
      assert.ok(!missed.some((k) => ledger.confirmed.includes(k)));
      const status = await runDeaddrop(['status', '--config', host.config, '--json']);
      assert.equal(status.code, 0, status.stderr);
      const sinks = (JSON.parse(status.stdout) as { sinks: { name: string; lagging: string[] }[] }).sinks;
      assert.deepEqual(
        sinks.map((k) => [k.name, k.lagging]),
        [
          ['a', []],
          ['b', missed],
        ],
      );
      await b.restart();
      host.change(3);
      const caughtUp = await backup(host);
      assert.equal(caughtUp.code, 0, caughtUp.run.stderr);
      assert.deepEqual(caughtUp.result.delivery.b.confirmed, [...missed, caughtUp.result.set]);
      assert.deepEqual(caughtUp.result.delivery.a.confirmed, [caughtUp.result.set]);
      assert.equal(caughtUp.result.spoolBytes, 0);
      assertIdentical(a, b);
      assertOnlyPutAndPropfind(a, b);
      assert.deepEqual(readdirSync(join(host.archive, 'outgoing')), []);
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);

test(
  'sink killed in the middle of a volume upload: nothing half-visible, the next run completes it',
  { skip },
  async () => {
    const [a, b] = await twoSinks();
    // B's port is free once it is killed: another test's sink may take it; the retries of this
    // run must not reach that one (they did: its reader saw a PUT, this run exited 0, not 4)
    let bKilled = false;
    const proxy = await throttleProxy(() => (bKilled ? undefined : b.port), 512 * 1024);
    const host = await makeHost([
      { name: 'a', url: sinkUrl(a) },
      { name: 'b', url: `http://127.0.0.1:${proxy.port}/webdav/${HOST}/` },
    ]);
    try {
      let finished = false;
      const run = backup(host).finally(() => (finished = true));
      // Kill B once a volume body is streaming into its temp directory.
      const partial = () =>
        existsSync(b.tempDir) &&
        readdirSync(b.tempDir).some((p) => (statSync(join(b.tempDir, p), { throwIfNoEntry: false })?.size ?? 0) > 0);
      while (!finished && !partial()) await new Promise((r) => setTimeout(r, 10));
      assert.ok(!finished, 'the run ended before B received a body');
      b.kill();
      bKilled = true;
      const r = await run;
      assert.equal(r.code, 4, r.run.stderr);
      assert.equal(r.result.delivery.b.ok, false);
      assertNoHalfSets(hostDir(b));
      assert.ok(!readdirSync(hostDir(b)).some((n) => n.endsWith('.sha256sums')), 'B has no complete set');
      proxy.setRate(0);
      await b.restart();
      bKilled = false;
      const next = await backup(host);
      assert.equal(next.code, 0, next.run.stderr);
      assert.ok(next.result.delivery.b.confirmed.includes(r.result.set));
      assertIdentical(a, b);
      assertOnlyPutAndPropfind(a, b);
    } finally {
      await proxy.close();
      await a.stop();
      await b.stop();
    }
  },
);

test('a slow sink gets the same files as the fast one', { skip }, async () => {
  const [a, b] = await twoSinks();
  const proxy = await throttleProxy(() => b.port, 2 * 1024 * 1024);
  const host = await makeHost([
    { name: 'a', url: sinkUrl(a) },
    { name: 'b', url: `http://127.0.0.1:${proxy.port}/webdav/${HOST}/` },
  ]);
  try {
    const r = await backup(host);
    assert.equal(r.code, 0, r.run.stderr);
    assertIdentical(a, b);
  } finally {
    await proxy.close();
    await a.stop();
    await b.stop();
  }
});

test('volumes reach the sinks while the rest of the set is still being written', { skip }, async () => {
  const { a, b, host } = await hostOnTwoSinks();
  host.change(1, 24_000_000); // ~26 volumes of 1 MiB: the set takes a while to write
  try {
    const run = backup(host);
    let ended = false;
    void run.finally(() => (ended = true));
    const outgoing = join(host.archive, 'outgoing');
    const manifestWritten = () =>
      existsSync(outgoing) &&
      readdirSync(outgoing).some((set) => readdirSync(join(outgoing, set)).some((f) => f.includes('.manifest')));
    const firstVolumeOn = (s: RunningSink) =>
      existsSync(hostDir(s)) && readdirSync(hostDir(s)).some((f) => f.includes('.vol1.difftar'));
    let seenEarly = { a: false, b: false };
    while (!ended && !manifestWritten()) {
      seenEarly = { a: seenEarly.a || firstVolumeOn(a), b: seenEarly.b || firstVolumeOn(b) };
      await new Promise((r) => setTimeout(r, 5));
    }
    const r = await run;
    assert.equal(r.code, 0, r.run.stderr);
    assert.deepEqual(seenEarly, { a: true, b: true }, 'volume 1 was on both sinks before the manifest was written');
    for (const name of ['a', 'b']) {
      assert.equal(r.result.delivery[name].created, r.result.files.length, 'volumes sent ahead count as sent');
      assert.equal(r.result.delivery[name].bytes, r.result.storedBytes);
    }
    assertIdentical(a, b);
  } finally {
    await a.stop();
    await b.stop();
  }
});

/** A sink whose storage is full: a real sink on a small tmpfs (root), else a server that answers 507. */
async function fullSink(t: { diagnostic(m: string): void }) {
  if (isRoot) {
    const mnt = tempDir('deaddrop-mirror-tmpfs-');
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1500k', 'tmpfs', mnt]).status === 0) {
      mkdirSync(join(mnt, 'root'));
      const sink = await startEmbeddedSink({ hosts: { [HOST]: PASSWORD }, root: join(mnt, 'root') });
      return {
        url: sinkUrl(sink),
        hostDir: hostDir(sink),
        puts: () => sink.accessLog().filter((r) => r.method === 'PUT' && r.status === 507).length,
        stop: async () => {
          await sink.stop();
          spawnSync('umount', [mnt]);
        },
      };
    }
    t.diagnostic('cannot mount a tmpfs here: a socket server answers 507 instead');
  }
  let puts = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'PUT') {
        puts++;
        res.writeHead(507, { 'content-length': '0' }).end();
      } else {
        const body = `<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/webdav/${HOST}/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`;
        res.writeHead(207, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) }).end(body);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webdav/${HOST}/`,
    hostDir: undefined,
    puts: () => puts,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test(
  'a sink answering 507 (out of space) is an error for that sink only, not retried; the set stays spooled',
  { skip },
  async (t) => {
    const a = await startEmbeddedSink({ hosts: { [HOST]: PASSWORD } });
    const full = await fullSink(t);
    const host = await makeHost([
      { name: 'a', url: sinkUrl(a) },
      { name: 'full', url: full.url },
    ]);
    try {
      const r = await backup(host);
      assert.equal(r.code, 4, r.run.stderr);
      assert.equal(r.result.delivery.a.ok, true);
      assert.equal(r.result.delivery.full.ok, false);
      assert.match(r.result.delivery.full.error, /507/);
      assert.equal(full.puts(), 1, 'the refused PUT was not repeated');
      assert.ok(r.result.spoolBytes > 0);
      assert.deepEqual(readdirSync(join(host.archive, 'outgoing')), [r.result.set]);
      assertSumsVerify(hostDir(a));
      if (full.hostDir) assertNoHalfSets(full.hostDir);
      assert.ok(!r.run.stderr.includes(PASSWORD));
    } finally {
      await full.stop();
      await a.stop();
    }
  },
);

test('both sinks down: exit 1, nothing lost; the next run delivers both sets to both', { skip }, async () => {
  const { a, b, host } = await hostOnTwoSinks();
  try {
    await a.stop();
    await b.stop();
    const down = await backup(host);
    assert.equal(down.code, 1, down.run.stderr);
    assert.equal(down.result.result, 'failed');
    assert.deepEqual(readdirSync(join(host.archive, 'outgoing')), [down.result.set]);
    for (const s of [a, b]) assert.deepEqual(readdirSync(hostDir(s)), []);
    await a.restart();
    await b.restart();
    host.change(1);
    const up = await backup(host);
    assert.equal(up.code, 0, up.run.stderr);
    assert.equal(up.result.type, 'inc');
    for (const n of ['a', 'b']) assert.deepEqual(up.result.delivery[n].confirmed, [down.result.set, up.result.set]);
    assertIdentical(a, b);
    assert.deepEqual(readdirSync(join(host.archive, 'outgoing')), []);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('a netrc readable by others: exit 2 naming the file, no secret printed, nothing sent', { skip }, async () => {
  const a = await startEmbeddedSink({ hosts: { [HOST]: PASSWORD } });
  const host = await makeHost([{ name: 'a', url: sinkUrl(a) }]);
  try {
    for (const mode of [0o644, 0o640]) {
      chmodSync(host.netrc, mode);
      const r = await backup(host);
      assert.equal(r.code, 2, r.run.stderr);
      assert.ok(r.run.stderr.includes(host.netrc), r.run.stderr);
      assert.ok(!(r.run.stdout + r.run.stderr).includes(PASSWORD));
    }
    assert.deepEqual(a.methodsLog(), []);
  } finally {
    await a.stop();
  }
});

test(
  'spool over its limit: the oldest undelivered set is dropped and reported, the next full repairs the sink',
  { skip },
  async () => {
    const { a, b, host } = await hostOnTwoSinks({ spoolLimit: 500_000 });
    try {
      assert.equal((await backup(host)).code, 0);
      await b.stop();
      host.change(1);
      const inc1 = await backup(host);
      assert.equal(inc1.code, 4, inc1.run.stderr);
      assert.deepEqual(inc1.result.problems, []);
      host.change(2);
      const inc2 = await backup(host);
      assert.equal(inc2.code, 4, inc2.run.stderr);
      // two ~300 KB sets do not fit in 500 KB: the older one goes, and the run says so
      assert.deepEqual(
        inc2.result.problems.map((p: { kind: string; path: string }) => [p.kind, p.path]),
        [['spool-overflow', inc1.result.set]],
      );
      assert.match(inc2.run.stdout + inc2.run.stderr, new RegExp(`dropped ${inc1.result.set.replace(/\./g, '\\.')}`));
      // inc2 needs inc1 on B, which B can never get now: it leaves the spool with it (A has it)
      assert.deepEqual(readdirSync(join(host.archive, 'outgoing')), []);
      assert.deepEqual(inc2.result.delivery.b.lagging, [inc1.result.set, inc2.result.set]);
      assert.ok(inc2.result.spoolBytes <= 500_000);

      await b.restart();
      host.change(3);
      const inc3 = await backup(host);
      assert.equal(inc3.code, 4, 'B still lacks the dropped set');
      // B lacks inc1: the later incs of that chain could not be restored there, so they do not go
      assert.deepEqual(inc3.result.delivery.b.confirmed, []);
      assert.deepEqual(inc3.result.delivery.b.lagging, [inc1.result.set, inc2.result.set, inc3.result.set]);
      assert.deepEqual(readdirSync(join(host.archive, 'outgoing')), []);

      const full = await backup(host, ['--full']);
      assert.equal(full.code, 0, full.run.stderr);
      assert.deepEqual(full.result.delivery.b.lagging, []);
      assertSumsVerify(hostDir(b));
      assertOnlyPutAndPropfind(a, b);
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);
