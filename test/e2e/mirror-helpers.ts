/**
 * Helpers for the mirrored-delivery tests: a host (source tree, recipient, netrc, config) that
 * backs up to WebDAV sinks, a throttling TCP proxy (a slow sink, or time to kill one mid-upload),
 * and checks on what a sink directory holds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  makeTestRecipient,
  runDeaddrop,
  seededBytes,
  startEmbeddedSink,
  tempDir,
  type RunningSink,
  type RunResult,
} from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';

export const HOST = 'h1';
/** Deliberately distinctive, so a leak anywhere is found by a plain substring search. */
export const PASSWORD = 'pw-Zq8xK2-never-print-me';

/** The host's directory on a sink's disk, and its URL on that sink. */
export const hostDir = (s: RunningSink) => join(s.root, HOST);
export const sinkUrl = (s: RunningSink) => `${s.url}${HOST}/`;

/** Two embedded sinks on 127.0.0.1 that both know HOST. */
export const twoSinks = async () =>
  Promise.all([startEmbeddedSink({ hosts: { [HOST]: PASSWORD } }), startEmbeddedSink({ hosts: { [HOST]: PASSWORD } })]);

/** A host that backs up to two fresh embedded sinks, `a` and `b` (config `extra` as makeHost). */
export async function hostOnTwoSinks(extra = {}) {
  const [a, b] = await twoSinks();
  const host = await makeHost(
    [
      { name: 'a', url: sinkUrl(a) },
      { name: 'b', url: sinkUrl(b) },
    ],
    extra,
  );
  return { a, b, host };
}

export interface MirrorHost {
  tmp: string;
  src: string;
  archive: string;
  config: string;
  netrc: string;
  metrics: string;
  plainKey: string;
  /** Rewrite the config (e.g. another sink list). */
  writeConfig(sinks: { name: string; url: string; ca?: string }[], extra?: Record<string, unknown>): void;
  /** Add new content to the source tree (each run then has something to store). */
  change(step: number, bytes?: number): void;
}

export async function makeHost(sinks: { name: string; url: string; ca?: string }[], extra = {}): Promise<MirrorHost> {
  const tmp = tempDir('deaddrop-mirror-');
  const src = join(tmp, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'hello\n');
  // incompressible: volumes are as big as the data
  writeFileSync(join(src, 'd', 'big.bin'), seededBytes('big', 2_500_000));
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const netrc = join(tmp, 'netrc');
  writeFileSync(netrc, `machine 127.0.0.1\n  login ${HOST}\n  password ${PASSWORD}\n`, { mode: 0o600 });
  const host: MirrorHost = {
    tmp,
    src,
    archive: join(tmp, 'archive'),
    config: join(tmp, 'client.json'),
    netrc,
    metrics: join(tmp, 'deaddrop.prom'),
    plainKey: key.plainKeyPath,
    writeConfig(list, more = {}) {
      writeFileSync(
        host.config,
        JSON.stringify({
          host: HOST,
          sources: [src],
          recipients: [key.certPath],
          sinks: list,
          netrc,
          archiveDir: host.archive,
          volumeSize: '1MiB',
          metricsFile: host.metrics,
          ...extra,
          ...more,
        }),
      );
    },
    change(step, bytes = 300_000) {
      writeFileSync(join(src, `step${step}.bin`), seededBytes(`step${step}`, bytes));
    },
  };
  host.writeConfig(sinks);
  return host;
}

export interface BackupOutcome {
  run: RunResult;
  code: number | null;
  result: Record<string, any>;
}

export async function backup(host: MirrorHost, args: string[] = []): Promise<BackupOutcome> {
  const run = await runDeaddrop(['backup', '--config', host.config, '--json', ...args]);
  const last = run.stdout.trim().split('\n').pop() ?? '';
  let result: Record<string, unknown> = {};
  try {
    result = JSON.parse(last) as Record<string, unknown>;
  } catch {
    /* no result line: the caller's exit-code assertion shows stderr */
  }
  return { run, code: run.code, result };
}

/** name → sha256 of every file in a sink's host directory (dot files included: nothing may hide). */
export function sinkContents(hostDir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(hostDir)) return out;
  for (const n of readdirSync(hostDir).sort())
    out.set(
      n,
      createHash('sha256')
        .update(readFileSync(join(hostDir, n)))
        .digest('hex'),
    );
  return out;
}

/** Every sums file in the directory verifies with stock `sha256sum -c --strict`, and lists every other file. */
export function assertSumsVerify(hostDir: string): void {
  const names = readdirSync(hostDir).sort();
  const sums = names.filter((n) => n.endsWith('.sha256sums'));
  assert.ok(sums.length > 0, `${hostDir}: no sums file`);
  const listed: string[] = [];
  for (const f of sums) {
    const r = spawnSync('sha256sum', ['-c', '--strict', f], { cwd: hostDir, encoding: 'utf8' });
    assert.equal(r.status, 0, `${hostDir}/${f}: ${r.stdout}${r.stderr}`);
    listed.push(
      ...readFileSync(join(hostDir, f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.slice(66)),
    );
  }
  assert.deepEqual(listed.sort(), names.filter((n) => !n.endsWith('.sha256sums')).sort(), `${hostDir}: unlisted files`);
}

/** Sets whose sums file is there are complete: each of its files present (nothing half-visible). */
export function assertNoHalfSets(hostDir: string): void {
  const names = existsSync(hostDir) ? readdirSync(hostDir) : [];
  for (const n of names) assert.ok(!n.startsWith('.'), `${hostDir}: temp file ${n} visible`);
  if (names.some((n) => n.endsWith('.sha256sums'))) assertSumsVerify(hostDir);
}

/**
 * A TCP proxy on 127.0.0.1 in front of a sink. Client → sink bytes are paced to `rate` bytes
 * per second (0: unpaced); sink → client bytes pass straight through.
 */
export async function throttleProxy(upstreamPort: () => number | undefined, rate: number) {
  let bytesPerSec = rate;
  const sockets = new Set<Socket>();
  const { connect } = await import('node:net');
  const server = createServer((client) => {
    // no upstream (the sink killed): refused, not sent to whatever took its port since
    const to = upstreamPort();
    if (to === undefined) return void client.destroy();
    const upstream = connect(to, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      if (!upstream.write(chunk)) client.pause();
      if (bytesPerSec > 0) {
        // Hold the next read back as long as this chunk takes at the paced rate.
        client.pause();
        setTimeout(() => client.resume(), Math.ceil((chunk.length / bytesPerSec) * 1000));
      }
    });
    upstream.on('drain', () => client.resume());
  });
  // Small reads, so pacing is smooth.
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    setRate(r: number) {
      bytesPerSec = r;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** All text a run left behind that an operator or a scraper might see. */
export function everythingVisible(host: MirrorHost, outcomes: BackupOutcome[], sinkLogs: string[]): string {
  const parts = outcomes.flatMap((o) => [o.run.stdout, o.run.stderr]);
  if (existsSync(host.metrics)) parts.push(readFileSync(host.metrics, 'utf8'));
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.(json|prom|log|txt)$/.test(e.name)) parts.push(readFileSync(p, 'utf8'));
    }
  };
  if (existsSync(host.archive)) walk(host.archive);
  parts.push(...sinkLogs);
  return parts.join('\n');
}

/** The sink's directory alone restores the source tree as it is now. */
export async function assertRestoresLatest(host: MirrorHost, dir: string, out: string): Promise<void> {
  const r = await runDeaddrop(['restore', '-q', '--from', dir, '--host', HOST, '--key', host.plainKey, '--to', out]); // prettier-ignore
  assert.equal(r.code, 0, `${dir}: ${r.stderr}`);
  assert.deepEqual(compareTrees(host.src, out), [], `${dir} alone restores the latest tree`);
}
