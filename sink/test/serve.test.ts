import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  deaddropArgv,
  enrolHosts,
  isRoot,
  missingTools,
  openPut,
  runCommand,
  runDeaddrop,
  startEmbeddedSink,
  tempDir,
  uploadTemps,
  type RunningSink,
} from '@deaddrop/test';
import { bcryptHash } from '../src/htpasswd.js';
import { FailedLoginLimit, loginKey } from '../src/login-limit.js';
import { DEFAULT_MAX_CONNS } from '../src/nginx-config.js';

const auth = (user: string, pw: string) => 'Basic ' + Buffer.from(`${user}:${pw}`).toString('base64');

async function put(sink: RunningSink, path: string, user: string, pw: string, body: Buffer | string): Promise<number> {
  const r = await fetch(sink.url.replace(/\/webdav\/$/, '') + path, {
    method: 'PUT',
    body,
    headers: { authorization: auth(user, pw) },
  });
  return r.status;
}

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 50));
};

test('a host added to htpasswd while serving can upload at once', async () => {
  const sink = await startEmbeddedSink({ hosts: { alice: 'a' } });
  assert.equal(await put(sink, '/webdav/bob/x', 'bob', 'b', 'from bob'), 401);
  appendFileSync(sink.htpasswd, `bob:${bcryptHash('b', 4)}\n`);
  assert.equal(await put(sink, '/webdav/bob/x', 'bob', 'b', 'from bob'), 201);
  assert.equal(readFileSync(join(sink.root, 'bob', 'x'), 'utf8'), 'from bob');
  await sink.stop();
});

test('an address that fails 30 logins in a minute gets 429, without bcrypt work, for the rest of it', async () => {
  const sink = await startEmbeddedSink({ hosts: { alice: 'a' } });
  const codes: number[] = [];
  for (let i = 0; i < 31; i++) codes.push(await put(sink, `/webdav/alice/g${i}`, 'alice', `guess${i}`, 'x'));
  assert.deepEqual(codes, [...Array<number>(30).fill(401), 429]);
  // the right password too, from that address, until the minute is over
  assert.equal(await put(sink, '/webdav/alice/ok', 'alice', 'a', 'x'), 429);
  await sink.stop();
});

test('an address blocked for failed logins still serves credentials the server has already verified', async () => {
  const sink = await startEmbeddedSink({ hosts: { alice: 'a', bob: 'b', carol: 'c' } });
  assert.equal(await put(sink, '/webdav/bob/b1', 'bob', 'b', 'x'), 201);
  for (let i = 0; i < 30; i++) assert.equal(await put(sink, `/webdav/alice/g${i}`, 'alice', `guess${i}`, 'x'), 401);
  assert.equal(await put(sink, '/webdav/alice/g30', 'alice', 'guess30', 'x'), 429);
  // bob's password was verified before: no guess, no bcrypt, so no reason to turn him away
  assert.equal(await put(sink, '/webdav/bob/b2', 'bob', 'b', 'y'), 201);
  assert.equal(readFileSync(join(sink.root, 'bob', 'b2'), 'utf8'), 'y');
  // credentials not verified yet still cost a bcrypt check: refused while the address is blocked
  assert.equal(await put(sink, '/webdav/carol/c1', 'carol', 'c', 'z'), 429);
  assert.equal(await put(sink, '/webdav/bob/b3', 'bob', 'wrong', 'z'), 429);
  await sink.stop();
});

test('failed logins are counted per IPv4 address and per IPv6 /64', () => {
  assert.equal(loginKey('192.0.2.7'), '192.0.2.7');
  assert.equal(loginKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(loginKey('::ffff:c000:207'), '192.0.2.7');
  const k = loginKey('2001:db8:1:2::1');
  assert.equal(k, '2001:db8:1:2::/64');
  assert.equal(loginKey('2001:0db8:0001:0002:ffff:ffff:ffff:fffe'), k);
  assert.equal(loginKey('2001:db8:1:2:a:b:192.0.2.1'), k);
  assert.equal(loginKey('2001:DB8:1:2::9%eth0'), k);
  assert.notEqual(loginKey('2001:db8:1:3::1'), k);
  assert.equal(loginKey('::1'), '0:0:0:0::/64');
  assert.equal(loginKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  // 30 failures spread over one /64 block the whole /64
  const limit = new FailedLoginLimit();
  for (let i = 0; i < 30; i++) limit.fail(`2001:db8:1:2::${(i + 1).toString(16)}`, 1000);
  assert.equal(limit.blocked('2001:db8:1:2:ffff::1', 1001), true);
  assert.equal(limit.blocked('2001:db8:1:3::1', 1001), false);
  assert.equal(limit.blocked('2001:db8:1:2:ffff::1', 61_000), false);
});

test(
  'a PUT fsyncs the parent of every directory it made (seen with strace)',
  { skip: missingTools('strace') },
  async () => {
    const dir = tempDir();
    const root = join(dir, 'root');
    mkdirSync(root);
    enrolHosts(root, join(dir, 'htpasswd'), {});
    appendFileSync(join(dir, 'htpasswd'), `alice:${bcryptHash('a', 4)}\n`); // ROOT/alice not made yet
    const trace = join(dir, 'strace.txt');
    const [cmd, ...pre] = deaddropArgv();
    const args = ['sink', 'serve', '--root', root, '--htpasswd', join(dir, 'htpasswd'), '--listen', '127.0.0.1:0', '--json', '--access-log', join(dir, 'log')]; // prettier-ignore
    const child = spawn('strace', ['-f', '-y', '-e', 'trace=mkdir,mkdirat,fsync', '-o', trace, cmd!, ...pre, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true, // its own process group: strace -o FILE PROG blocks SIGTERM, the server gets it
    });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout!.on('data', (d: Buffer) => {
          buf += d.toString();
          const m = /"url":"([^"]+)"/.exec(buf);
          if (m) resolve(m[1]!);
        });
        child.once('exit', () => reject(new Error('exited')));
      });
      const r = await fetch(`${url}alice/sub/x`, {
        method: 'PUT',
        body: 'x',
        headers: { authorization: auth('alice', 'a') },
      });
      assert.equal(r.status, 201);
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
    const lines = readFileSync(trace, 'utf8').split('\n');
    const made = lines.findIndex((l) => /mkdir(at)?\(.*"[^"]*\/root\/alice"/.test(l));
    assert.ok(made >= 0, 'the PUT made ROOT/alice');
    const synced = lines.slice(made).filter((l) => /fsync\(\d+</.test(l));
    for (const d of [root, join(root, 'alice'), join(root, 'alice', 'sub')])
      assert.ok(
        synced.some((l) => l.includes(`<${d}>`)),
        `${d} is not fsynced after the PUT made its directories:\n${synced.join('\n')}`,
      );
  },
);

test('per-host upload cap answers 429; other hosts still upload; chunked body over --max-body -> 413', async () => {
  const sink = await startEmbeddedSink({
    hosts: { alice: 'a', bob: 'b' },
    extraArgs: ['--max-uploads-per-host', '1', '--max-body', '1MB'],
  });
  const slow = openPut(sink.port, '/webdav/alice/slow', auth('alice', 'a'), 1000);
  slow.req.write('x'.repeat(500));
  await until(() => uploadTemps(sink).length === 1);
  assert.equal(await put(sink, '/webdav/alice/second', 'alice', 'a', 'y'), 429);
  assert.equal(await put(sink, '/webdav/bob/other', 'bob', 'b', 'z'), 201);
  slow.req.end('x'.repeat(500));
  assert.equal(await slow.done, 201);
  const r = await fetch(`${sink.url}alice/big`, {
    method: 'PUT',
    headers: { authorization: auth('alice', 'a') },
    body: new Blob([randomBytes(2_000_000)]).stream(),
    duplex: 'half',
  } as RequestInit);
  assert.equal(r.status, 413);
  assert.equal(existsSync(join(sink.root, 'alice', 'big')), false);
  await until(() => uploadTemps(sink).length === 0);
  await sink.stop();
});

test('SIGTERM: an upload in flight finishes and is published; a stalled one is discarded', async () => {
  const sink = await startEmbeddedSink({ hosts: { alice: 'a' } });
  const body = randomBytes(200_000);
  const up = openPut(sink.port, '/webdav/alice/inflight', auth('alice', 'a'), body.length);
  up.req.write(body.subarray(0, 100_000));
  await until(() => uploadTemps(sink).length === 1);
  const stopped = sink.stop();
  await new Promise((r) => setTimeout(r, 300));
  up.req.end(body.subarray(100_000));
  assert.equal(await up.done, 201);
  await stopped;
  assert.deepEqual(readFileSync(join(sink.root, 'alice', 'inflight')), body);

  const short = await startEmbeddedSink({ hosts: { alice: 'a' }, extraArgs: ['--shutdown-grace', '1s'] });
  const stall = openPut(short.port, '/webdav/alice/stalled', auth('alice', 'a'), 100_000);
  stall.done.catch(() => {});
  stall.req.write(randomBytes(10_000));
  await until(() => uploadTemps(short).length === 1);
  await short.stop();
  assert.equal(existsSync(join(short.root, 'alice', 'stalled')), false);
  assert.deepEqual(uploadTemps(short), []);
});

test('a killed server leaves a temp file; the restart removes it and publishes nothing', async () => {
  const sink = await startEmbeddedSink({ hosts: { alice: 'a' } });
  const up = openPut(sink.port, '/webdav/alice/crash', auth('alice', 'a'), 100_000);
  up.done.catch(() => {});
  up.req.write(randomBytes(10_000));
  await until(() => uploadTemps(sink).length === 1);
  sink.kill();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(uploadTemps(sink).length, 1);
  await sink.restart();
  assert.deepEqual(uploadTemps(sink), []);
  assert.equal(existsSync(join(sink.root, 'alice', 'crash')), false);
  assert.equal(await put(sink, '/webdav/alice/after', 'alice', 'a', 'ok'), 201);
  await sink.stop();
});

test("a second server on the same temp directory is refused (exit 3) and spares the first one's uploads", async () => {
  const sink = await startEmbeddedSink({ hosts: { alice: 'a' } });
  const up = openPut(sink.port, '/webdav/alice/slow', auth('alice', 'a'), 20_000);
  up.req.write(randomBytes(10_000));
  await until(() => uploadTemps(sink).length === 1);
  const second = await runDeaddrop([
    'sink',
    'serve',
    '--root',
    sink.root,
    '--htpasswd',
    sink.htpasswd,
    '--listen',
    '127.0.0.1:0',
  ]);
  assert.equal(second.code, 3, second.stderr);
  assert.match(second.stderr, new RegExp(`another sink server \\(pid ${sink.pid}\\) holds .*serve\\.lock`));
  assert.equal(uploadTemps(sink).length, 1, "the first server's upload is still there");
  up.req.end(randomBytes(10_000));
  assert.equal(await up.done, 201);
  assert.equal(readFileSync(join(sink.root, 'alice', 'slow')).length, 20_000);
  await sink.stop();
});

test('a client gone while its password is checked leaves no temp file and no upload slot taken', async () => {
  const sink = await startEmbeddedSink({ hosts: { alice: 'a' }, extraArgs: ['--max-uploads-per-host', '1'] });
  writeFileSync(sink.htpasswd, `alice:${bcryptHash('a', 12)}\n`); // ~0.3 s per check: time to leave
  const socket = net.connect(sink.port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.write(
    `PUT /webdav/alice/gone HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth('alice', 'a')}\r\nContent-Length: 100\r\n\r\n`,
  );
  await new Promise((r) => setTimeout(r, 50));
  socket.destroy();
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(uploadTemps(sink), []);
  assert.equal(await put(sink, '/webdav/alice/after', 'alice', 'a', 'ok'), 201, 'the upload slot was given back');
  await sink.stop();
});

test('a PROPFIND or reader GET with an oversized body is refused (413) and the server keeps serving', async () => {
  const sink = await startEmbeddedSink({ hosts: { alice: 'a', rdr: 'r' }, readers: ['rdr'] });
  const send = (method: string, path: string, user: string, pw: string, body: Buffer) =>
    fetch(sink.url.replace(/\/webdav\/$/, '') + path, {
      method,
      body,
      headers: { authorization: auth(user, pw), depth: '1' },
    }).then(
      (r) => r.status,
      () => 0, // the server may cut the connection after its answer
    );
  assert.equal(await send('PROPFIND', '/webdav/alice/', 'alice', 'a', Buffer.alloc(70_000, 'x')), 413);
  assert.equal(await send('PROPFIND', '/webdav/alice/', 'rdr', 'r', Buffer.alloc(70_000, 'x')), 413);
  // fetch will not send a GET body: a raw request
  const socket = net.connect(sink.port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.on('error', () => {});
  socket.write(
    `GET /webdav/alice/x HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth('rdr', 'r')}\r\nContent-Length: 70000\r\n\r\n`,
  );
  socket.write(Buffer.alloc(70_000, 'x'));
  const answer = await new Promise<string>((r) => socket.once('data', (d: Buffer) => r(d.toString())));
  socket.destroy();
  assert.match(answer, /^HTTP\/1\.1 413 /);
  assert.equal(await send('PROPFIND', '/webdav/alice/', 'alice', 'a', Buffer.alloc(10, 'x')), 207);
  assert.equal(await put(sink, '/webdav/alice/after', 'alice', 'a', 'ok'), 201, 'the server is still up');
  await sink.stop();
});

test('connections per client address are capped like nginx limit_conn; a closed one frees its place', async () => {
  const sink = await startEmbeddedSink({ hosts: { alice: 'a' } });
  const propfind = `PROPFIND /webdav/alice/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth('alice', 'a')}\r\nDepth: 0\r\nContent-Length: 0\r\n\r\n`;
  // A connection's fate: the first bytes it is answered, or 'closed' (cut unanswered), or
  // 'open' when neither happens within waitMs.
  const open = async () => {
    const s = net.connect(sink.port, '127.0.0.1');
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    return s;
  };
  const fate = (s: net.Socket, waitMs: number) =>
    new Promise<string>((resolve) => {
      const t = setTimeout(() => resolve('open'), waitMs);
      s.once('data', (d: Buffer) => (clearTimeout(t), resolve(d.toString().split('\r\n')[0]!)));
      s.once('close', () => (clearTimeout(t), resolve('closed')));
    });
  const held: net.Socket[] = [];
  for (let i = 0; i < DEFAULT_MAX_CONNS; i++) held.push(await open());
  const over = await open();
  assert.equal(await fate(over, 3000), 'closed', 'the connection over the cap is closed at once');
  held[0]!.write(propfind);
  assert.equal(await fate(held[0]!, 3000), 'HTTP/1.1 207 Multi-Status', 'connections under the cap are served');
  held.pop()!.destroy();
  let answer = 'closed';
  for (let i = 0; i < 20 && answer === 'closed'; i++) {
    const s = await open();
    s.write(propfind);
    answer = await fate(s, 3000);
    s.destroy();
    if (answer === 'closed') await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(answer, 'HTTP/1.1 207 Multi-Status', 'a new connection is served once one has closed');
  for (const s of held) s.destroy();
  await sink.stop();
});

test('a client that never finishes its request head is cut off (--header-timeout)', async () => {
  const sink = await startEmbeddedSink({ hosts: { alice: 'a' }, extraArgs: ['--header-timeout', '1s'] });
  const closed = await new Promise<boolean>((resolve) => {
    const s = net.connect(sink.port, '127.0.0.1', () => s.write('PUT /webdav/alice/x HTTP/1.1\r\nHost: x\r\n'));
    s.on('data', () => {});
    s.on('close', () => resolve(true));
    s.on('error', () => {});
  });
  assert.equal(closed, true);
  await sink.stop();
});

test('TLS: curl uploads over https with the sink certificate', { skip: missingTools('curl', 'openssl') }, async () => {
  const sink = await startEmbeddedSink({ hosts: { alice: 'a' }, tls: true });
  assert.match(sink.url, /^https:/);
  const file = join(tempDir(), 'f');
  writeFileSync(file, 'over tls');
  const r = await runCommand('curl', [
    '-sS',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '--cacert',
    sink.caFile!,
    '-u',
    'alice:a',
    '-T',
    file,
    `${sink.url}alice/tls`,
  ]);
  assert.equal(r.stdout, '201', r.stderr);
  assert.equal(readFileSync(join(sink.root, 'alice', 'tls'), 'utf8'), 'over tls');
  await sink.stop();
});

test('listens on IPv4 and IPv6 at once', async (t) => {
  const probe = net.createServer();
  const v6 = await new Promise<boolean>((r) => {
    probe.once('error', () => r(false));
    probe.listen(0, '::1', () => probe.close(() => r(true)));
  });
  if (!v6) return t.skip('no IPv6 loopback here');
  const dir = tempDir();
  const root = join(dir, 'root');
  mkdirSync(root);
  enrolHosts(root, join(dir, 'htpasswd'), { alice: 'a' });
  const [cmd, ...pre] = deaddropArgv();
  const child = spawn(
    cmd!,
    [
      ...pre,
      'sink',
      'serve',
      '--root',
      root,
      '--htpasswd',
      join(dir, 'htpasswd'),
      '--listen',
      '127.0.0.1:0',
      '--listen',
      '[::1]:0',
      '--json',
      '--access-log',
      join(dir, 'log'),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const urls: string[] = [];
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const m of buf.matchAll(/"url":"([^"]+)"/g)) if (!urls.includes(m[1]!)) urls.push(m[1]!);
      if (urls.length === 2) resolve();
    });
    child.once('exit', () => reject(new Error('exited')));
  });
  try {
    assert.ok(urls.some((u) => u.startsWith('http://[::1]:')));
    for (const [i, u] of urls.entries()) {
      const r = await fetch(`${u}alice/v${i}`, {
        method: 'PUT',
        body: u,
        headers: { authorization: auth('alice', 'a') },
      });
      assert.equal(r.status, 201);
      assert.equal(readFileSync(join(root, 'alice', `v${i}`), 'utf8'), u);
    }
  } finally {
    child.kill('SIGTERM');
  }
});

test(
  'disk full: 507, temp file removed, nothing published',
  { skip: isRoot ? false : 'needs root to mount a small tmpfs' },
  async (t) => {
    const mnt = tempDir();
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]).status !== 0)
      return t.skip('cannot mount tmpfs');
    try {
      const sink = await startEmbeddedSink({ root: join(mnt, 'root'), hosts: { alice: 'a' } });
      assert.equal(await put(sink, '/webdav/alice/full', 'alice', 'a', randomBytes(4_000_000)), 507);
      assert.equal(existsSync(join(sink.root, 'alice', 'full')), false);
      assert.deepEqual(uploadTemps(sink), []);
      assert.equal(await put(sink, '/webdav/alice/small', 'alice', 'a', 'fits'), 201);
      await sink.stop();
    } finally {
      spawnSync('umount', ['-l', mnt]);
    }
  },
);

test('usage errors are one line with exit 2; --help describes serve', async () => {
  const dir = tempDir();
  let r = await runDeaddrop(['sink', 'serve', '--root', join(dir, 'missing'), '--htpasswd', join(dir, 'h')]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /missing/);
  mkdirSync(join(dir, 'root'));
  r = await runDeaddrop(['sink', 'serve', '--root', join(dir, 'root'), '--htpasswd', join(dir, 'nope')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /nope/);
  r = await runDeaddrop(['sink', 'serve', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--max-uploads-per-host/);
});
