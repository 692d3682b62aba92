/**
 * `deaddrop backup` run for real with a metrics file and ping URLs served on 127.0.0.1: the
 * textfile after an ok, a degraded, a failed, a locked run and one that stops with an error;
 * the pings in order (start then success, start then fail; none at the end of a locked run);
 * a ping server that only fails costs a warning, not the backup; no secret gets into the
 * metrics or the log.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseSamples } from '@deaddrop/client/ops/metrics-parse';
import { parseTimestamp } from '@deaddrop/common/units';
import { blackholeSink, deaddropArgv, makeTestRecipient, runDeaddrop, seededBytes, tempDir } from '@deaddrop/test';

const TOKEN = 'b7f1c0de-secret-ping-token';
const PASSWORD = 'netrc-password-never-shown';

interface Ping {
  method: string;
  path: string;
  body: string;
}

/** An HTTP server that records requests and answers each with `status`. */
async function pingServer(status = 200): Promise<{ base: string; pings: Ping[]; server: Server }> {
  const pings: Ping[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      pings.push({ method: req.method!, path: req.url!, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(status).end('OK');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => server.close());
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}/ping/${TOKEN}`, pings, server };
}

interface Setup {
  dir: string;
  config: string;
  metrics: string;
  archive: string;
  write(patch: Record<string, unknown>): void;
}

async function setup(pingBase: string): Promise<Setup> {
  const dir = tempDir('deaddrop-ops-cli-');
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'one.txt'), 'one\n');
  writeFileSync(join(src, 'sub', 'two.bin'), seededBytes('two', 50_000));
  // older than the full's second, or the next incremental reads them again (compare.ts, racy files)
  const past = new Date(Date.now() - 3600_000);
  for (const f of ['one.txt', 'sub/two.bin']) utimesSync(join(src, f), past, past);
  const key = await makeTestRecipient(join(dir, 'keys'), { bits: 2048 });
  const netrc = join(dir, 'netrc');
  writeFileSync(netrc, `machine sink.example login h1 password ${PASSWORD}\n`, { mode: 0o600 });
  // a file where a sink directory should be: that sink cannot take anything (even for root)
  writeFileSync(join(dir, 'blocked'), 'not a directory');
  for (const sink of ['sinkA', 'sinkB']) mkdirSync(join(dir, sink, 'h1'), { recursive: true });
  const metrics = join(dir, 'prom', 'deaddrop-backup.prom');
  const archive = join(dir, 'archive');
  const config = join(dir, 'client.json');
  const base = {
    host: 'h1',
    sources: [src],
    recipients: [key.certPath],
    netrc,
    sinks: [
      { name: 'A', url: `file://${dir}/sinkA/h1/` },
      { name: 'B', url: `file://${dir}/sinkB/h1/` },
    ],
    archiveDir: archive,
    metricsFile: metrics,
    pings: { start: `${pingBase}/start`, success: `${pingBase}`, fail: `${pingBase}/fail` },
  };
  const write = (patch: Record<string, unknown>) => writeFileSync(config, JSON.stringify({ ...base, ...patch }));
  write({});
  return { dir, config, metrics, archive, write };
}

function readMetrics(file: string) {
  const text = readFileSync(file, 'utf8');
  const get = (name: string, labels: Record<string, string> = {}) =>
    parseSamples(text).find(
      (s) => s.name === `deaddrop_backup_${name}` && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    )?.value;
  return { text, get };
}

/** The ping token and the password nowhere; in metrics also no path or URL (labels are names only). */
function assertNoSecrets(text: string, s: Setup, what: string) {
  const banned = what === 'metrics' ? [TOKEN, PASSWORD, s.dir, 'file://', 'http://'] : [TOKEN, PASSWORD];
  for (const secret of banned) assert.ok(!text.includes(secret), `${what} contains ${secret}`);
}

const pingList = (pings: Ping[]) => pings.map((p) => `${p.method} ${p.path}`);

test('ok, degraded, failed, then an error: metrics after each run and the pings in order', async () => {
  const srv = await pingServer();
  const s = await setup(srv.base);

  const ok = await runDeaddrop(['backup', '--config', s.config]);
  assert.equal(ok.code, 0, ok.stderr);
  let m = readMetrics(s.metrics);
  assert.equal(m.get('last_status'), 1);
  const firstSuccess = m.get('last_success_timestamp_seconds')!;
  assert.ok(Math.abs(firstSuccess - Date.now() / 1000) < 3600, `${firstSuccess} is about now`);
  assert.ok(m.get('duration_seconds')! > 0);
  assert.equal(m.get('read_bytes_total'), 50_004);
  assert.ok(m.get('stored_bytes_total')! > 0);
  assert.deepEqual([m.get('sink_up', { sink: 'A' }), m.get('sink_up', { sink: 'B' })], [1, 1]);
  assert.equal(m.get('files_total', { change: 'new' }), 2);
  assert.equal(m.get('errors_total'), 0);
  assert.equal(m.get('spool_bytes'), 0);
  assert.equal(m.get('runs_total', { status: 'ok' }), 1);
  assert.equal(m.get('source_files'), 2);
  assert.equal(m.get('source_bytes'), 50_004);
  for (const s2 of parseSamples(m.text)) assert.equal(s2.labels.host, 'h1');
  assertNoSecrets(m.text, s, 'metrics');
  assert.deepEqual(pingList(srv.pings), [`GET /ping/${TOKEN}/start`, `POST /ping/${TOKEN}`]);
  assert.match(srv.pings[1]!.body, /^deaddrop backup on h1: ok \(exit 0\), set full\./);
  assertNoSecrets(srv.pings[1]!.body, s, 'success ping');

  // sink B cannot be written (a file where its directory was): the set is on A only. Its URL
  // stays: a new sink URL would make this run a full.
  srv.pings.length = 0;
  renameSync(join(s.dir, 'sinkB'), join(s.dir, 'sinkB.away'));
  writeFileSync(join(s.dir, 'sinkB'), 'not a directory');
  writeFileSync(join(s.dir, 'src', 'one.txt'), 'one, changed\n');
  const degraded = await runDeaddrop(['backup', '--config', s.config]);
  assert.equal(degraded.code, 4, degraded.stderr);
  m = readMetrics(s.metrics);
  assert.equal(m.get('last_status'), 4);
  const secondSuccess = m.get('last_success_timestamp_seconds')!;
  assert.ok(secondSuccess >= firstSuccess, 'a degraded run still counts as a backup');
  assert.deepEqual([m.get('sink_up', { sink: 'A' }), m.get('sink_up', { sink: 'B' })], [1, 0]);
  assert.ok(m.get('uploaded_bytes_total', { sink: 'A' })! >= m.get('uploaded_bytes_total', { sink: 'B' })!);
  assert.equal(m.get('files_total', { change: 'changed' }), 1);
  assert.equal(m.get('runs_total', { status: 'degraded' }), 1);
  assert.equal(m.get('runs_total', { status: 'ok' }), 1, 'counters carry over');
  assertNoSecrets(m.text, s, 'metrics');
  assert.deepEqual(pingList(srv.pings), [`GET /ping/${TOKEN}/start`, `POST /ping/${TOKEN}/fail`]);
  assert.match(srv.pings[1]!.body, /: degraded \(exit 4\)/);

  // neither sink can be written: failed, the last success stays
  srv.pings.length = 0;
  s.write({
    sinks: [
      { name: 'A', url: `file://${s.dir}/blocked/a/` },
      { name: 'B', url: `file://${s.dir}/blocked/b/` },
    ],
  });
  const failed = await runDeaddrop(['backup', '--config', s.config]);
  assert.equal(failed.code, 1, failed.stderr);
  m = readMetrics(s.metrics);
  assert.equal(m.get('last_status'), 0);
  assert.equal(m.get('last_success_timestamp_seconds'), secondSuccess);
  assert.deepEqual([m.get('sink_up', { sink: 'A' }), m.get('sink_up', { sink: 'B' })], [0, 0]);
  assert.equal(m.get('runs_total', { status: 'failed' }), 1);
  assert.deepEqual(pingList(srv.pings), [`GET /ping/${TOKEN}/start`, `POST /ping/${TOKEN}/fail`]);
  assert.match(srv.pings[1]!.body, /: failed \(exit 1\)/);

  // the run stops with an error (the source is gone): failed, fail ping with the reason
  srv.pings.length = 0;
  s.write({ sources: [join(s.dir, 'gone')] });
  const thrown = await runDeaddrop(['backup', '--config', s.config]);
  assert.equal(thrown.code, 2, thrown.stderr);
  m = readMetrics(s.metrics);
  assert.equal(m.get('last_status'), 0);
  assert.equal(m.get('last_success_timestamp_seconds'), secondSuccess);
  assert.equal(m.get('runs_total', { status: 'failed' }), 2);
  assert.deepEqual(pingList(srv.pings), [`GET /ping/${TOKEN}/start`, `POST /ping/${TOKEN}/fail`]);
  assert.match(srv.pings[1]!.body, /: failed: .*no such directory/);

  for (const r of [ok, degraded, failed, thrown]) assertNoSecrets(r.stderr + r.stdout, s, 'log');
  assert.deepEqual(readdirSync(join(s.dir, 'prom')), ['deaddrop-backup.prom'], 'no temp file left');
});

test('a locked run: status 2, last success kept, a start ping and no end ping', async () => {
  const srv = await pingServer();
  const s = await setup(srv.base);
  const ok = await runDeaddrop(['backup', '--config', s.config]);
  assert.equal(ok.code, 0, ok.stderr);
  const success = readMetrics(s.metrics).get('last_success_timestamp_seconds');
  const duration = readMetrics(s.metrics).get('duration_seconds');
  srv.pings.length = 0;

  const holder = spawn('sleep', ['60']);
  try {
    writeFileSync(join(s.archive, 'lock'), `${holder.pid}\n`);
    const locked = await runDeaddrop(['backup', '--config', s.config]);
    assert.equal(locked.code, 3, locked.stderr);
  } finally {
    holder.kill();
  }
  const m = readMetrics(s.metrics);
  assert.equal(m.get('last_status'), 2);
  assert.equal(m.get('last_success_timestamp_seconds'), success);
  assert.equal(m.get('duration_seconds'), duration, 'the last real run’s duration stays');
  assert.equal(m.get('runs_total', { status: 'locked' }), 1);
  assert.deepEqual(pingList(srv.pings), [`GET /ping/${TOKEN}/start`]);
});

test('pings that fail are retried and only warned about; --dry-run neither pings nor writes metrics', async () => {
  const srv = await pingServer(503);
  const s = await setup(srv.base);
  const dry = await runDeaddrop(['backup', '--config', s.config, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(srv.pings, []);
  assert.deepEqual(readdirSync(s.dir).includes('prom'), false);

  const r = await runDeaddrop(['backup', '--config', s.config]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readMetrics(s.metrics).get('last_status'), 1);
  // three tries each (the first and two retries), the start ones all before the success ones
  assert.deepEqual(pingList(srv.pings), [
    ...Array(3).fill(`GET /ping/${TOKEN}/start`),
    ...Array(3).fill(`POST /ping/${TOKEN}`),
  ]);
  assert.match(r.stderr, /warn: start ping to 127\.0\.0\.1:\d+ failed: HTTP 503/);
  assert.match(r.stderr, /warn: success ping to 127\.0\.0\.1:\d+ failed: HTTP 503/);
  assertNoSecrets(r.stderr, s, 'log');
});

/**
 * A WebDAV sink that takes the connection and never answers: it holds a run at its first
 * PROPFIND. `reached` resolves when the request came.
 */
async function hangingSink(): Promise<{ port: number; reached: Promise<void> }> {
  const sockets: Socket[] = [];
  let asked: () => void;
  const reached = new Promise<void>((r) => (asked = r));
  const hang = createTcpServer((sock) => {
    sockets.push(sock);
    sock.once('data', () => asked());
  });
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  after(() => {
    for (const sock of sockets) sock.destroy();
    hang.close();
  });
  return { port: (hang.address() as AddressInfo).port, reached };
}

test('a first run stopped by a signal is recorded: state.json made with no chain and the failed run', async () => {
  const srv = await pingServer();
  const s = await setup(srv.base);
  const { port, reached } = await hangingSink();
  appendFileSync(join(s.dir, 'netrc'), 'machine 127.0.0.1 login h1 password x\n');
  s.write({ sinks: [{ name: 'C', url: `http://127.0.0.1:${port}/h1/` }] });
  const [node, ...args] = deaddropArgv();
  const child = spawn(node!, [...args, 'backup', '--config', s.config], { stdio: 'ignore' });
  await reached;
  child.kill('SIGTERM');
  const code = await new Promise((r) => child.once('close', r));
  assert.equal(code, 143);
  const status = await runDeaddrop(['status', '--config', s.config, '--json']);
  assert.equal(status.code, 0, status.stderr);
  const st = JSON.parse(status.stdout) as { chain: unknown[]; lastRuns: { result: string; error?: string }[] };
  assert.deepEqual(st.chain, []);
  assert.deepEqual(
    st.lastRuns.map((r) => [r.result, r.error]),
    [['failed', 'interrupted by SIGTERM']],
  );
});

test('SIGTERM mid-run: failed in the metrics, the fail ping, a failed run recorded, lock released, exit 143', async () => {
  const srv = await pingServer();
  const s = await setup(srv.base);
  const ok = await runDeaddrop(['backup', '--config', s.config]);
  assert.equal(ok.code, 0, ok.stderr);
  const stateBefore = JSON.parse(readFileSync(join(s.archive, 'state.json'), 'utf8')) as { chain: unknown[] };
  srv.pings.length = 0;

  const { port, reached } = await hangingSink();
  appendFileSync(join(s.dir, 'netrc'), 'machine 127.0.0.1 login h1 password x\n');
  const sinks = [
    { name: 'A', url: `file://${s.dir}/sinkA/h1/` },
    { name: 'B', url: `file://${s.dir}/sinkB/h1/` },
  ];
  s.write({ sinks: [...sinks, { name: 'C', url: `http://127.0.0.1:${port}/h1/` }] });
  const [node, ...args] = deaddropArgv();
  const child = spawn(node!, [...args, 'backup', '--config', s.config, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  await reached;
  child.kill('SIGTERM');
  const [code, signal] = (await new Promise((r) => child.once('close', (c, sig) => r([c, sig])))) as [
    number | null,
    string | null,
  ];
  assert.deepEqual([code, signal], [143, null], stderr);
  assert.match(stderr, /^deaddrop: interrupted by SIGTERM$/m);
  // --json: the last line is the result
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').pop()!), {
    result: 'failed',
    exitCode: 143,
    error: 'interrupted by SIGTERM',
  });

  const m = readMetrics(s.metrics);
  assert.equal(m.get('last_status'), 0);
  assert.equal(m.get('runs_total', { status: 'failed' }), 1);
  assert.equal(m.get('runs_total', { status: 'ok' }), 1);
  assert.deepEqual(pingList(srv.pings), [`GET /ping/${TOKEN}/start`, `POST /ping/${TOKEN}/fail`]);
  assert.match(srv.pings[1]!.body, /: failed: interrupted by SIGTERM/);
  const state = JSON.parse(readFileSync(join(s.archive, 'state.json'), 'utf8')) as {
    chain: unknown[];
    runs: { result: string; error?: string }[];
  };
  assert.deepEqual(state.chain, stateBefore.chain, 'nothing of the unfinished run is recorded');
  assert.deepEqual(
    state.runs.map((r) => r.result),
    ['ok', 'failed'],
  );
  assert.match(state.runs[1]!.error!, /interrupted by SIGTERM/);
  assert.equal(existsSync(join(s.archive, 'lock')), false, 'the lock is released');

  // the next run goes on from the recorded chain
  s.write({ sinks });
  const next = await runDeaddrop(['backup', '--config', s.config, '--json']);
  assert.equal(next.code, 0, next.stderr);
  assert.equal(JSON.parse(next.stdout.trim().split('\n').pop()!).type, 'inc');
});

test('SIGTERM while the set is written: the run stops, is recorded once (failed), and holds its lock past its second', async () => {
  const srv = await pingServer();
  const s = await setup(srv.base);
  const first = await runDeaddrop(['backup', '--config', s.config]);
  assert.equal(first.code, 0, first.stderr);
  // a fail ping that never answers: stopping takes its 3 s, time enough for the set to finish
  // if the run went on meanwhile
  const hang = await blackholeSink();
  after(() => hang.close());
  s.write({ pings: { start: `${srv.base}/start`, success: srv.base, fail: `${hang.url}fail` } });
  writeFileSync(join(s.dir, 'src', 'big.bin'), seededBytes('big', 40_000_000));
  const [node, ...args] = deaddropArgv();
  const child = spawn(node!, [...args, 'backup', '--config', s.config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const started = new Promise<string>((resolve) =>
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /incremental backup of .* as inc\.\w+\.to\.(\w+)/.exec(stderr);
      if (m) resolve(m[1]!);
    }),
  );
  const setTime = parseTimestamp(await started)!;
  child.kill('SIGTERM');
  const code = await new Promise((r) => child.once('close', r));
  assert.equal(code, 143, stderr);
  assert.ok(Math.floor(Date.now() / 1000) > setTime, 'the lock was held until the clock passed the set time');
  const state = JSON.parse(readFileSync(join(s.archive, 'state.json'), 'utf8')) as { runs: { result: string }[] };
  assert.deepEqual(
    state.runs.map((r) => r.result),
    ['ok', 'failed'],
    'one record for the stopped run, never both an outcome and the interruption',
  );
  assert.equal(readMetrics(s.metrics).get('last_status'), 0);
  assert.equal(existsSync(join(s.archive, 'lock')), false);
});
