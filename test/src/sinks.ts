import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bcryptHash } from '@deaddrop/sink/htpasswd';
import { parseSize } from '@deaddrop/common/units';
import { deaddropArgv } from './cli.js';

export interface SinkOptions {
  /** Sink root (files land at ROOT/HOST/NAME); default a fresh temp dir. */
  root?: string;
  /** Hosts to enrol: user → password (bcrypt entries, directories created). */
  hosts?: Record<string, string>;
  /** URL prefix, default /webdav/. */
  prefix?: string;
  /** Serve HTTPS with a throwaway self-signed certificate for 127.0.0.1 (see `caFile`). */
  tls?: boolean;
  /** Kept for API stability: the access log is always recorded. */
  logMethods?: boolean;
  /** Largest PUT body (both servers), e.g. '2GB'; default: the servers' own default. */
  maxBody?: string;
  /** Reader accounts (`--reader`; nginx-config readers): GET + PROPFIND everywhere. Add them to htpasswd yourself. */
  readers?: string[];
  /** Extra `deaddrop sink serve` arguments (embedded only), e.g. ['--max-body', '1MB']. */
  extraArgs?: string[];
}

export interface AccessRecord {
  method: string;
  path: string;
  status: number;
}

export interface RunningSink {
  kind: 'embedded' | 'nginx';
  /** http://127.0.0.1:PORT/webdav/ (https with tls). */
  url: string;
  root: string;
  htpasswd: string;
  port: number;
  pid: number;
  /** Upload temp directory (outside the served tree, same file system). */
  tempDir: string;
  /** The self-signed certificate to trust when started with tls. */
  caFile?: string;
  /** Methods of every request so far, in order (from the access log; no secrets in it). */
  methodsLog: () => string[];
  accessLog: () => AccessRecord[];
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL, no cleanup (what a crash looks like). */
  kill(): void;
  /** Start again on the same port, same root. */
  restart(): Promise<void>;
}

/**
 * Cleanup at process exit rather than with node:test's after(): a sink is often started in a
 * before() hook, where after() would fire as soon as the hook ends.
 */
const cleanups: (() => void)[] = [];
process.once('exit', () => {
  for (const c of cleanups.reverse()) {
    try {
      c();
    } catch {
      /* best effort */
    }
  }
});

function sinkDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (!process.env.KEEP_TMP) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Parse method, path and status from our access log or nginx's combined format. */
/** Upload temp files in a sink's temp directory (the embedded sink's lock file is not one). */
export function uploadTemps(sink: RunningSink): string[] {
  return readdirSync(sink.tempDir).filter((n) => n !== 'serve.lock');
}

export function parseAccessLog(text: string): AccessRecord[] {
  const out: AccessRecord[] = [];
  for (const line of text.split('\n')) {
    const m = /"([A-Z]+) (\S*)(?: HTTP\/[\d.]+)?" (\d{3})/.exec(line);
    if (m) out.push({ method: m[1]!, path: m[2]!, status: Number(m[3]) });
  }
  return out;
}

function readLog(file: string): AccessRecord[] {
  return existsSync(file) ? parseAccessLog(readFileSync(file, 'utf8')) : [];
}

/** Write an htpasswd file (bcrypt cost 4: fast tests) and the hosts' directories. */
export function enrolHosts(root: string, htpasswd: string, hosts: Record<string, string>): void {
  const lines = Object.entries(hosts).map(([user, pw]) => `${user}:${bcryptHash(pw, 4)}\n`);
  writeFileSync(htpasswd, lines.join(''), { mode: 0o644 });
  for (const user of Object.keys(hosts))
    if (/^[A-Za-z0-9]/.test(user)) mkdirSync(join(root, user), { recursive: true });
}

/** A self-signed certificate + key for 127.0.0.1 (openssl). */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  const r = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return { cert, key };
}

function waitForListening(child: ChildProcess, stderr: () => string): Promise<{ port: number; url: string }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) {
        if (!line.startsWith('{"listening"')) continue;
        const j = JSON.parse(line) as { listening: string; url: string };
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve({ port: Number(j.listening.split(':').pop()), url: j.url });
        return;
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`deaddrop sink serve exited ${code}: ${stderr()}`)));
  });
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  child.ref(); // keep the event loop alive while we wait (it is unref'd while running)
  return new Promise((r) => child.once('exit', () => r()));
}

/** Start `deaddrop sink serve` as a real child process on 127.0.0.1 and an ephemeral port. */
export async function startEmbeddedSink(opts: SinkOptions = {}): Promise<RunningSink> {
  const dir = sinkDir('deaddrop-sink-');
  const root = opts.root ?? join(dir, 'root');
  mkdirSync(root, { recursive: true });
  const htpasswd = join(dir, 'htpasswd');
  enrolHosts(root, htpasswd, opts.hosts ?? {});
  const prefix = opts.prefix ?? '/webdav/';
  const logFile = join(dir, 'access.log');
  const tls = opts.tls ? selfSignedCert(dir) : undefined;
  const [cmd, ...pre] = deaddropArgv();
  let child: ChildProcess;
  let stderr = '';
  let port = 0;
  let url = '';
  const start = async (listenPort: number) => {
    const args = [
      ...pre,
      'sink',
      'serve',
      '--root',
      root,
      '--htpasswd',
      htpasswd,
      '--prefix',
      prefix,
      '--listen',
      `127.0.0.1:${listenPort}`,
      '--json',
      '--access-log',
      logFile,
      ...(opts.extraArgs?.includes('--shutdown-grace') ? [] : ['--shutdown-grace', '10s']),
      ...(tls ? ['--tls-cert', tls.cert, '--tls-key', tls.key] : []),
      ...(opts.maxBody ? ['--max-body', opts.maxBody] : []),
      ...(opts.readers ?? []).flatMap((r) => ['--reader', r]),
      ...(opts.extraArgs ?? []),
    ];
    child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    ({ port, url } = await waitForListening(child, () => stderr));
    // A test that forgets stop() must not hang its file: the exit hook kills the server.
    child.unref();
    for (const s of [child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  };
  await onFreePort(start);
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const sink: RunningSink = {
    kind: 'embedded',
    get url() {
      return url;
    },
    root,
    htpasswd,
    get port() {
      return port;
    },
    get pid() {
      return child.pid!;
    },
    tempDir: join(root, '.deaddrop-tmp'),
    caFile: tls?.cert,
    methodsLog: () => readLog(logFile).map((r) => r.method),
    accessLog: () => readLog(logFile),
    async stop() {
      child.kill('SIGTERM');
      await waitExit(child);
    },
    kill() {
      child.kill('SIGKILL');
    },
    async restart() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await waitExit(child);
      }
      await onSamePort(() => start(port));
    },
  };
  return sink;
}

/**
 * Start a real nginx + dav-ext with the config `deaddrop sink nginx-config` generates, in a temp
 * prefix (own pid, logs, temp paths) on 127.0.0.1 and a free port. Workers run as root (test
 * wrapper only) so they can write the temp sink root.
 */
export async function startNginxSink(opts: SinkOptions = {}): Promise<RunningSink> {
  const { nginxConfig, nginxWrapperConfig } = await import('@deaddrop/sink/nginx-config');
  const dir = sinkDir('deaddrop-nginx-');
  const root = opts.root ?? join(dir, 'root');
  mkdirSync(root, { recursive: true });
  const htpasswd = join(dir, 'htpasswd');
  enrolHosts(root, htpasswd, opts.hosts ?? {});
  const prefix = opts.prefix ?? '/webdav/';
  const conf = join(dir, 'nginx.conf');
  const tls = opts.tls ? selfSignedCert(dir) : undefined;
  let port = 0;
  const start = async (wanted: number) => {
    port = wanted;
    let block = nginxConfig({
      root,
      htpasswd,
      listen: [`127.0.0.1:${port}${tls ? ' ssl' : ''}`],
      prefix,
      rate: 1000,
      maxBodyBytes: opts.maxBody ? parseSize(opts.maxBody) : 0,
      readers: opts.readers,
    });
    if (tls)
      block = block.replace(
        'server_name _;',
        `server_name _;\n    ssl_certificate ${tls.cert};\n    ssl_certificate_key ${tls.key};`,
      );
    writeFileSync(conf, nginxWrapperConfig(block, dir, { user: 'root' }));
    const r = spawnSync('nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`nginx failed to start: ${r.stderr}`);
  };
  const pid = () => Number(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim());
  const waitGone = async (p: number) => {
    for (let i = 0; i < 200; i++) {
      try {
        process.kill(p, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await onFreePort(start);
  cleanups.push(() => {
    const p = pid();
    spawnSync('pkill', ['-KILL', '-P', String(p)]);
    process.kill(p, 'SIGKILL');
  });
  const logFile = join(dir, 'access.log');
  const sink: RunningSink = {
    kind: 'nginx',
    get url() {
      return `${tls ? 'https' : 'http'}://127.0.0.1:${port}${prefix}`;
    },
    root,
    htpasswd,
    get port() {
      return port;
    },
    get pid() {
      return pid();
    },
    tempDir: join(root, '.deaddrop-tmp'),
    caFile: tls?.cert,
    methodsLog: () => readLog(logFile).map((r) => r.method),
    accessLog: () => readLog(logFile),
    async stop() {
      const p = pid();
      process.kill(p, 'SIGQUIT');
      await waitGone(p);
    },
    kill() {
      const p = pid();
      spawnSync('pkill', ['-KILL', '-P', String(p)]);
      process.kill(p, 'SIGKILL');
    },
    async restart() {
      try {
        await sink.stop();
      } catch {
        /* was not running */
      }
      await onSamePort(() => start(port));
    },
  };
  return sink;
}

/**
 * A port for a server that a test may stop and start again: free right now on 127.0.0.1, and
 * below the kernel's ephemeral range (net.ipv4.ip_local_port_range), where no outgoing
 * connection is given one. A port from listen(0) is in that range: while its server was down,
 * a client of another test could get it as its own end of a connection, and the restart failed.
 */
export async function stablePort(): Promise<number> {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  const span = Math.min(16384, low - 1025);
  for (let tries = 0; tries < 100; tries++) {
    const port = low - 1 - Math.floor(Math.random() * span);
    if (await portIsFree(port)) return port;
  }
  throw new Error(`no free port on 127.0.0.1 below ${low}`);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(false) : reject(err)));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const inUse = (err: unknown) => /EADDRINUSE|[Aa]ddress already in use/.test(String((err as Error)?.message ?? err));

/** Start a server on a stablePort(), on another one if that was taken before the server bound it. */
async function onFreePort(start: (port: number) => Promise<void>): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      return await start(await stablePort());
    } catch (err) {
      if (!inUse(err) || tries === 5) throw err;
    }
  }
}

/** Start a server again on its port, waiting a little while it is still held (a dying worker's socket). */
async function onSamePort(start: () => Promise<void>): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      return await start();
    } catch (err) {
      if (!inUse(err) || tries === 20) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * A sink that takes connections, reads what comes and never answers (a hung server, a
 * black-holing firewall): `url` is its /webdav/h1/ directory.
 */
export async function blackholeSink(): Promise<{ url: string; connections: () => number; close: () => void }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createNetServer((s) => {
    count++;
    sockets.add(s);
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webdav/h1/`,
    connections: () => count,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** A PUT to a sink on 127.0.0.1 whose body the test feeds by hand; `done` is the response status. */
export function openPut(port: number, path: string, authorization: string, length: number) {
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    method: 'PUT',
    path,
    agent: false,
    headers: { authorization, 'content-length': String(length) },
  });
  const done = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
  });
  return { req, done };
}
