/**
 * Helpers for the snowflake script tests: the generated scripts run for real under dash and
 * busybox ash, with stub zfs / sysupgrade / logger / configctl (and pass-through date and openssl
 * wrappers that can be told to misbehave) on PATH, against `deaddrop sink serve` processes and,
 * when asked, a flaky HTTP sink served from the test process.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  makeTestRecipient,
  missingTools,
  runDeaddrop,
  startEmbeddedSink,
  tempDir,
  type RunningSink,
  type TestRecipient,
  uploadTemps,
} from '@deaddrop/test';

export const PASSWORD = 'snowflake-secret-Pw-4711';
export const SHELLS: [string, string[]][] = [
  ['dash', ['dash']],
  ['busybox ash', ['busybox', 'sh']],
];

export const needs = missingTools('dash', 'busybox', 'openssl', 'curl', 'shellcheck', 'sha256sum');
/** Tests that look for the processes a run left (runProcesses) read /proc. */
export const needsProc = needs || (existsSync('/proc/self/environ') ? false : 'no /proc to find processes in');

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
  rename) [ "$1" = -r ] && shift
    # a run killed between sending and making the new base (ZFS_RENAME_KILL: tests only)
    [ -z "\${ZFS_RENAME_KILL:-}" ] || { kill -9 "$PPID"; exit 1; }
    sed "s|^$1\\$|$2|" "$s/snapshots" > "$s/n"; mv "$s/n" "$s/snapshots" ;;
  send)
    base=none
    while [ $# -gt 1 ]; do case "$1" in -i) base=$2; shift 2 ;; *) shift ;; esac; done
    [ -n "\${ZFS_SEND_SLEEP:-}" ] && sleep "$ZFS_SEND_SLEEP"
    # ZFS_SEND_SLOW: a line every 0.2 s (a sleep of its own between) until stopped, taking a
    # second to act on TERM (as a zfs send in the middle of a disk read); "sending" says it runs
    if [ -n "\${ZFS_SEND_SLOW:-}" ]; then
      trap 'sleep 1; exit 143' TERM
      touch "$s/sending"
      while :; do printf 'zfs stream of %s, slowly\\n' "$1"; sleep 0.2; done
    fi
    printf 'zfs stream of %s from %s\\n' "$1" "$base"
    yes "$1" | head -c "\${ZFS_SEND_BYTES:-300000}"
    # a send that dies after most of the stream (a pool error, a killed zfs)
    [ -z "\${ZFS_SEND_FAIL:-}" ] || { sleep 1; exit 1; } ;;
  *) echo "zfs stub: $cmd?" >&2; exit 1 ;;
esac
`;

/** What the zfs stub sends for a snapshot: the test recomputes it to compare after decrypting. */
export function zfsStreamBytes(snap: string, base: string, size = 300000): Buffer {
  const bulk = Buffer.from(`${snap}\n`.repeat(Math.ceil(size / (snap.length + 1)))).subarray(0, size);
  return Buffer.concat([Buffer.from(`zfs stream of ${snap} from ${base}\n`), bulk]);
}

/** What the sysupgrade stub writes: a gzip, as `sysupgrade -b -` does (stored, not squeezed: 52 kB). */
export const SYSUPGRADE_BYTES = gzipSync('sysupgrade -b of the stub\n'.repeat(2000), { level: 0 });

function which(tool: string): string {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${tool} not found`);
  return r.stdout.trim();
}

function writeStubs(bin: string, state: string): void {
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(state, 'sysupgrade.bytes'), SYSUPGRADE_BYTES);
  const date = which('date');
  const openssl = which('openssl');
  const mktemp = which('mktemp');
  const tee = which('tee');
  const sha256sum = which('sha256sum');
  const curl = which('curl');
  const rm = which('rm');
  const stubs: Record<string, string> = {
    zfs: ZFS_STUB,
    sysupgrade:
      `#!/bin/sh\necho "$*" >> '${state}/sysupgrade.calls'\n[ "$*" = "-b -" ] || exit 1\n` +
      `[ -z "\${SYSUPGRADE_SLEEP:-}" ] || sleep "$SYSUPGRADE_SLEEP"\n` +
      `[ -z "\${SYSUPGRADE_FAIL:-}" ] || { echo partial; exit 1; }\ncat '${state}/sysupgrade.bytes'\n`,
    logger: `#!/bin/sh\necho "$*" >> '${state}/logger'\n`,
    // TMP_FULL: the run's temp directory takes no file, as on a full /tmp (a directory sits
    // where the first certificate goes: root ignores modes, not that)
    mktemp:
      `#!/bin/sh\nd=$('${mktemp}' "$@") || exit 1\n` +
      `case "$*" in *'/deaddrop.XXXXXX') [ -z "\${TMP_FULL:-}" ] || mkdir "$d/recipient0.pem" ;; esac\n` +
      // LOCK_FULL: the new lock directory takes no file either, as on a full overlay
      `case "$*" in *'/.lock.XXXXXX') [ -z "\${LOCK_FULL:-}" ] || mkdir "$d/pid" "$d/token" ;; esac\necho "$d"\n`,
    configctl: `#!/bin/sh\necho "$*" >> '${state}/configctl'\n`,
    // The run's stamp: the next line of $DATE_STAMPS (the last one stays), with the real epoch.
    date:
      `#!/bin/sh\nif [ -n "\${DATE_STAMPS:-}" ] && [ "$*" = "-u +%s %Y%m%dT%H%M%SZ" ]; then\n` +
      `  line=$(head -n 1 "$DATE_STAMPS"); rest=$(tail -n +2 "$DATE_STAMPS")\n` +
      `  [ -z "$rest" ] || printf '%s\\n' "$rest" > "$DATE_STAMPS"\n` +
      `  echo "$('${date}' -u +%s) $line"; exit 0\nfi\nexec '${date}' "$@"\n`,
    // OPENSSL_FAIL: the whole message is written, then openssl fails (as on a write error).
    openssl: `#!/bin/sh\nif [ -n "\${OPENSSL_FAIL:-}" ]; then '${openssl}' "$@"; exit 1; fi\nexec '${openssl}' "$@"\n`,
    // TEE_SLEEP, RM_SLEEP: a slow host, where tee starts late and removing the run's temp dir
    // takes a while (windows a signal can fall into)
    // TEE_CUT=N: tee reads the whole stream (openssl ends well), copies its first N bytes, fails
    tee:
      `#!/bin/sh\n[ -z "\${TEE_SLEEP:-}" ] || sleep "$TEE_SLEEP"\n` +
      `if [ -n "\${TEE_CUT:-}" ]; then cat > "$ZFS_STATE/tee.in"; head -c "$TEE_CUT" "$ZFS_STATE/tee.in" | '${tee}' "$@"; exit 1; fi\n` +
      `exec '${tee}' "$@"\n`,
    // CURL_SLOW_SHA256=TEXT: a PUT of a .sha256 whose URL holds TEXT starts 30 s late (a slow
    // sink), after touching $ZFS_STATE/curl-slow
    curl:
      `#!/bin/sh\nif [ -n "\${CURL_SLOW_SHA256:-}" ]; then for a in "$@"; do\n` +
      `  case $a in *"$CURL_SLOW_SHA256"*.sha256) touch "$ZFS_STATE/curl-slow"; sleep 30 ;; esac\ndone; fi\nexec '${curl}' "$@"\n`,
    // SHA256_FAIL: sha256sum reads its input, then fails, writing nothing
    sha256sum: `#!/bin/sh\nif [ -n "\${SHA256_FAIL:-}" ]; then cat > /dev/null; exit 1; fi\nexec '${sha256sum}' "$@"\n`,
    rm:
      `#!/bin/sh\ncase "$*" in *'/deaddrop.'*) [ -z "\${RM_SLEEP:-}" ] || sleep "$RM_SLEEP" ;; esac\n` +
      `exec '${rm}' "$@"\n`,
  };
  for (const [name, text] of Object.entries(stubs)) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
}

/**
 * A WebDAV-ish sink served from the test process, write-once like the real ones (201, 409 for
 * a name that exists) and storing under ROOT/HOST/NAME. Its fault: answer 503 after reading the
 * whole body of the first PUT of each path (`first-put`), or only of each `.sha256` path
 * (`first-sha256`); or read no more of a PUT than its first chunk and never answer it, a
 * `.sha256` aside (`hold-put`: a slow sink, still uploading); or answer a redirect (301, as an
 * http-to-https redirect does) at once, before reading the body, to every PUT (`redirect`) or
 * to each `.sha256` PUT only (`redirect-sha256`), storing nothing. A PUT whose connection
 * breaks before the body ends stores nothing.
 */
export type FlakyMode = 'first-put' | 'first-sha256' | 'hold-put' | 'redirect' | 'redirect-sha256';

export interface FlakySink {
  url: string;
  root: string;
  /** Every PUT: path, body bytes read, status sent (null: the client went away mid-body). */
  requests: { path: string; bytes: number; status: number | null }[];
  stop(): Promise<void>;
}

export async function startFlakySink(mode: FlakyMode): Promise<FlakySink> {
  const root = tempDir('deaddrop-flaky-sink-');
  const requests: FlakySink['requests'] = [];
  const seen = new Set<string>();
  const server = createServer((req, res) => {
    const record = { path: req.url ?? '', bytes: 0, status: null as number | null };
    requests.push(record);
    const chunks: Buffer[] = [];
    const hold = mode === 'hold-put' && !record.path.endsWith('.sha256');
    if (mode === 'redirect' || (mode === 'redirect-sha256' && record.path.endsWith('.sha256'))) {
      req.on('data', (c: Buffer) => (record.bytes += c.length));
      record.status = 301;
      res.writeHead(301, { location: `https://sink.example.org${record.path}`, 'content-length': 0 }).end();
      return;
    }
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      record.bytes += c.length;
      if (hold) req.pause();
    });
    req.on('end', () => {
      if (hold) return;
      const answer = (status: number) => {
        record.status = status;
        res.writeHead(status, { 'content-length': 0 }).end();
      };
      const parts = record.path.split('/').filter(Boolean); // webdav, HOST, NAME
      if (req.method !== 'PUT' || parts.length !== 3) return answer(405);
      const failFirst = mode === 'first-put' || record.path.endsWith('.sha256');
      if (failFirst && !seen.has(record.path)) {
        seen.add(record.path);
        return answer(503);
      }
      const dir = join(root, parts[1]!);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, parts[2]!);
      if (existsSync(file)) return answer(409);
      writeFileSync(file, Buffer.concat(chunks));
      answer(201);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webdav/`,
    root,
    requests,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A proxy on 127.0.0.1 in front of an HTTP sink (`target`, e.g. an embedded sink's url) that
 * passes every request through, except the answer to the first PUT of each `.sha256` path: that
 * PUT reaches the sink, which stores the file, and the proxy then drops the client's connection
 * instead of passing the 201 on (an answer lost on the way back). Its url replaces the sink's in
 * a fleet file; files land in the sink's root.
 */
export interface AnswerDroppingProxy {
  url: string;
  /** Every request: method, path, the sink's status, and whether the answer was dropped. */
  requests: { method: string; path: string; status: number | null; dropped: boolean }[];
  /** While true, PROPFIND is refused (405) here: the script cannot ask the sink what it holds. */
  refusePropfind: boolean;
  stop(): Promise<void>;
}

export async function startAnswerDroppingProxy(target: string): Promise<AnswerDroppingProxy> {
  const upstream = new URL(target);
  const requests: AnswerDroppingProxy['requests'] = [];
  const dropped = new Set<string>();
  const proxy: AnswerDroppingProxy = {
    url: '',
    requests,
    refusePropfind: false,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  const server = createServer((req, res) => {
    const record = { method: req.method ?? '', path: req.url ?? '', status: null as number | null, dropped: false };
    requests.push(record);
    if (proxy.refusePropfind && req.method === 'PROPFIND') {
      record.status = 405;
      req.resume();
      res.writeHead(405, { 'content-length': '0' }).end();
      return;
    }
    // (this server answered curl's Expect: 100-continue itself; hop-by-hop headers stay here)
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: upstream.host };
    for (const h of ['expect', 'connection', 'keep-alive']) delete headers[h];
    const out = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        record.status = answer.statusCode ?? null;
        const drop =
          req.method === 'PUT' && record.path.endsWith('.sha256') && record.status === 201 && !dropped.has(record.path);
        if (drop) {
          dropped.add(record.path);
          record.dropped = true;
          answer.resume();
          req.socket.destroy();
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => req.socket.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  proxy.url = `http://127.0.0.1:${port}${upstream.pathname}`;
  return proxy;
}

/** What tests need of a sink: where it is and where its files land (ROOT/HOST/NAME). */
export type SinkLike = Pick<RunningSink, 'url' | 'root'>;

export interface Rig {
  dir: string;
  root: string;
  state: string;
  /** The script's state directory inside root. */
  hostState: string;
  /** The script's lock directory inside root: in /var/run (emptied at boot), not the state. */
  lock: string;
  bin: string;
  script: string;
  /** The embedded sinks (two, or one next to `flaky`). */
  sinks: RunningSink[];
  flaky?: FlakySink;
  fleet: string;
  recipient: TestRecipient;
  /** Every recipient (two with `bundle`). */
  recipients: TestRecipient[];
  host: string;
  stop(): Promise<void>;
}

export interface RigOptions {
  tls?: boolean;
  /** The second sink is a flaky one from the test process. */
  flaky?: FlakyMode;
  /** Two recipients, both certificates in one PEM file. */
  bundle?: boolean;
  /** OpenWrt: the host's mtdEvery in the fleet file (default "7d"). */
  mtdEvery?: string;
  /** The second embedded sink's largest PUT body (`--max-body`): it refuses larger files (413). */
  secondMaxBody?: string;
}

/** Sinks, a fleet file, the generated script, stubs and a fake host root with a netrc. */
export async function makeRig(kind: 'opnsense' | 'openwrt', opts: RigOptions = {}): Promise<Rig> {
  const dir = tempDir('deaddrop-snowflake-');
  const host = kind === 'opnsense' ? 'fw.lab' : 'ap.lab';
  const sinks = [await startEmbeddedSink({ hosts: { [host]: PASSWORD }, tls: opts.tls })];
  const flaky = opts.flaky ? await startFlakySink(opts.flaky) : undefined;
  if (!flaky)
    sinks.push(await startEmbeddedSink({ hosts: { [host]: PASSWORD }, tls: opts.tls, maxBody: opts.secondMaxBody }));
  const recipient = await makeTestRecipient(join(dir, 'keys'), { bits: 2048 });
  const recipients = [recipient];
  let recipientFile = recipient.certPath;
  if (opts.bundle) {
    recipients.push(await makeTestRecipient(join(dir, 'keys'), { cn: 'second recipient', bits: 2048 }));
    recipientFile = join(dir, 'keys', 'bundle.pem');
    writeFileSync(recipientFile, recipients.map((r) => readFileSync(r.certPath, 'utf8')).join(''));
  }
  const fleet = join(dir, 'fleet.json');
  const fleetSinks: { name: string; url: string; ca?: string }[] = sinks.map((s, i) => ({
    name: `sink${i}`,
    url: s.url,
    ...(s.caFile ? { ca: s.caFile } : {}),
  }));
  if (flaky) fleetSinks.push({ name: 'flaky', url: flaky.url });
  writeFileSync(
    fleet,
    JSON.stringify({
      recipients: [recipientFile],
      sinks: fleetSinks,
      hosts: [
        kind === 'opnsense'
          ? { name: host, kind, dataset: 'zroot' }
          : { name: host, kind, mtdEvery: opts.mtdEvery ?? '7d' },
      ],
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
  const netrc = `machine 127.0.0.1 login ${host} password ${PASSWORD}\n`; // every sink listens there
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
  const hostState = join(root, kind === 'opnsense' ? 'var/db/deaddrop' : 'etc/deaddrop/state');
  const lock = join(root, 'var/run/deaddrop/lock');
  return {
    dir,
    root,
    state,
    hostState,
    lock,
    bin,
    script,
    sinks,
    flaky,
    fleet,
    recipient,
    recipients,
    host,
    async stop() {
      for (const s of sinks) await s.stop().catch(() => {});
      await flaky?.stop();
    },
  };
}

/** A UTC stamp `minutesAgo` before now, as the scripts name files. */
export function stamp(minutesAgo: number): string {
  return new Date(Date.now() - minutesAgo * 60000).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export interface ScriptRun {
  code: number | null;
  stderr: string;
  psHits: number;
  psSamples: number;
}

/** Run the script in a shell, sampling the process list for the password while it runs. */
export function runScript(
  rig: Rig,
  shell: string[],
  env: Record<string, string>,
  args: string[] = [],
  opts: { onStart?: (pid: number) => void; onExit?: () => void } = {},
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
    // (the script itself has ended; close waits for every process holding its stderr too)
    child.on('exit', () => opts.onExit?.());
    child.on('close', (code) => {
      done = true;
      resolve({ code, stderr, psHits, psSamples });
    });
  });
}

/**
 * The live processes a run of the script started, as "PID ARGS": every one inherits the rig's
 * ZFS_STATE (runScript sets it; nothing else of the test has it). Zombies are dead.
 */
export function runProcesses(rig: Rig): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`ZFS_STATE=${rig.state}`)) continue;
      if (/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'))) continue;
      found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim()}`);
    } catch {
      // gone meanwhile, or another user's
    }
  }
  return found;
}

export function sinkFiles(sink: SinkLike, host: string): string[] {
  const d = join(sink.root, host);
  return existsSync(d) ? readdirSync(d).sort() : [];
}

export function decrypt(file: string, key: string): Buffer {
  const r = spawnSync('openssl', ['smime', '-decrypt', '-binary', '-inform', 'DER', '-inkey', key, '-in', file], {
    maxBuffer: 1 << 30,
  });
  assert.equal(r.status, 0, `openssl smime -decrypt ${file}: ${r.stderr.toString()}`);
  return r.stdout;
}

/** The file is on the sink, its .sha256 verifies with sha256sum -c, and it decrypts to `plain`. */
export function assertStored(rig: Rig, sink: SinkLike, name: string, plain: Buffer): void {
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
  for (const r of rig.recipients)
    assert.ok(decrypt(join(d, name), r.plainKeyPath).equals(plain), `${name} decrypts to the stub's bytes`);
}

export function snapshots(rig: Rig): string[] {
  const f = join(rig.state, 'snapshots');
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
}

/**
 * The sink's upload temp directory empties (it drops a cut-off PUT when it sees the connection
 * close, which may be just after the script exits).
 */
export async function assertNoUploadTemps(sink: RunningSink): Promise<void> {
  for (let i = 0; i < 50 && uploadTemps(sink).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(uploadTemps(sink), [], `upload temp files left on ${sink.url}`);
}

/** `deaddrop check` on each embedded sink's tree, without the key. */
export async function assertCheckOk(rig: Rig): Promise<void> {
  for (const sink of rig.sinks) {
    const r = await runDeaddrop(['check', '--root', sink.root, '--fleet', rig.fleet, '--format', 'json']);
    assert.equal(r.code, 0, `check on ${sink.root}: ${r.stdout}${r.stderr}`);
  }
}

/**
 * Restore the newest point in time from one sink alone, as docs/RESTORE.md says (the newest
 * zroot-full, then every zroot-inc after it, oldest first by T), checking each stream the way
 * `zfs receive` would: a full starts the pool, an incremental applies only on top of the
 * snapshot it was sent from (the stub's header names it; the host renames pending-T to base-T
 * after sending, and receive matches snapshots by identity, not name). Only files with their
 * .sha256 count. Returns the stamps received, in order; fails naming the first gap.
 */
export function replayZfsChain(rig: Rig, sink: SinkLike): string[] {
  const streams = sinkFiles(sink, rig.host)
    .map((n) => /^zroot-(full|inc)\.(?:(\d{8}T\d{6}Z)\.to\.)?(\d{8}T\d{6}Z)\.zfs\.p7m\.sha256$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ kind: m[1]!, t0: m[2], t: m[3]!, name: m[0].slice(0, -'.sha256'.length) }))
    .sort((a, b) => a.t.localeCompare(b.t));
  const from = streams.map((s) => s.kind).lastIndexOf('full');
  assert.ok(from >= 0, `no zroot-full on ${sink.url}: ${streams.map((s) => s.name).join(' ')}`);
  const received: string[] = [];
  for (const s of streams.slice(from)) {
    const plain = decrypt(join(sink.root, rig.host, s.name), rig.recipient.plainKeyPath);
    const header = /^zfs stream of zroot@deaddrop-pending-(\S+) from (\S+)\n/.exec(plain.toString('latin1', 0, 200));
    assert.ok(header, `${s.name}: not a stub stream`);
    assert.equal(header[1], s.t, `${s.name}: stream of another snapshot`);
    const base = header[2] === 'none' ? 'none' : header[2]!.replace(/^zroot@deaddrop-base-/, '');
    const newest = received.at(-1) ?? 'none';
    assert.equal(
      base,
      s.kind === 'full' ? 'none' : newest,
      `restoring from ${sink.url} alone: ${s.name} applies on top of ${base}, the pool's newest is ${newest}`,
    );
    // a linked name (zroot-inc.T0.to.T) names the base it applies on: exactly the stream's
    if (s.t0 !== undefined) assert.equal(s.t0, base, `${s.name}: named after a base it was not sent from`);
    received.push(s.t);
  }
  return received;
}
