import assert from 'node:assert/strict';
import { chmodSync, cpSync, readFileSync, existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { runDeaddrop, tempDir } from '@deaddrop/test';
import { DAY, testRecipients, writeChain } from './tree.js';

const NOW = 1_800_000_000;
const dir = tempDir();
const root = join(dir, 'root');
const htpasswd = join(dir, 'htpasswd');
const stubBin = join(dir, 'bin');
const mailOut = join(dir, 'mail.txt');

before(async () => {
  const rcp = await testRecipients(join(dir, 'keys'));
  await writeChain(join(root, 'good.lab'), rcp, NOW - 5 * DAY, [NOW - DAY]);
  await writeChain(join(root, 'late.lab'), rcp, NOW - 9 * DAY, [NOW - 6 * DAY]);
  writeFileSync(htpasswd, 'good.lab:x\nlate.lab:x\n');
  // a sendmail stub: records its arguments and the message it was given
  mkdirSync(stubBin);
  writeFileSync(join(stubBin, 'sendmail'), `#!/bin/sh\necho "ARGS: $*" > "${mailOut}"\ncat >> "${mailOut}"\n`);
  chmodSync(join(stubBin, 'sendmail'), 0o755);
});

const env = () => ({ ...process.env, PATH: `${stubBin}:${process.env.PATH}` });

test('--mail: the text report goes to sendmail -t with To and a Subject naming the trouble', async () => {
  const r = await runDeaddrop(
    ['check', '--root', root, '--htpasswd', htpasswd, '--now', String(NOW), '--mail', 'ops@example.org'],
    { env: env() },
  );
  assert.equal(r.code, 1, r.stderr);
  const mail = readFileSync(mailOut, 'utf8');
  assert.match(mail, /^ARGS: -t\n/);
  assert.match(mail, /^To: ops@example\.org$/m);
  assert.match(mail, /^Subject: deaddrop check: 1 problems, 0 warnings on late\.lab$/m);
  const body = mail.split('\n\n').slice(1).join('\n\n');
  assert.equal(body, r.stdout, 'the body is the text report');
});

test('--webhook: POSTs {"text": ...} as JSON; an HTTP error fails the run after printing the report', async () => {
  const received: { headers: IncomingMessage['headers']; body: string }[] = [];
  let status = 200;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(status).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/abc`;
  try {
    const args = ['check', '--root', root, '--htpasswd', htpasswd, '--now', String(NOW), '--webhook', url];
    const r = await runDeaddrop(args);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(received.length, 1);
    assert.equal(received[0]!.headers['content-type'], 'application/json');
    const payload = JSON.parse(received[0]!.body) as { text: string };
    assert.deepEqual(Object.keys(payload), ['text']);
    assert.match(payload.text, /^deaddrop check: 1 problems/);
    assert.match(payload.text, /stale-incremental: last backup \S+ is 6 days old/);

    status = 500;
    const failed = await runDeaddrop(args);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /--webhook http:\/\/127\.0\.0\.1:\d+: HTTP 500/);
    assert.match(failed.stdout, /late\.lab/);
  } finally {
    server.close();
  }
});

test('--prom-file: written atomically with per-host gauges; --only-problems sends nothing when all is well', async () => {
  const prom = join(dir, 'deaddrop-check.prom');
  const goodHtpasswd = join(dir, 'htpasswd-good');
  writeFileSync(goodHtpasswd, 'good.lab:x\n');
  writeFileSync(mailOut, '');
  const r = await runDeaddrop(
    [
      'check',
      '--root',
      root,
      '--htpasswd',
      goodHtpasswd,
      '--now',
      String(NOW),
      '--prom-file',
      prom,
      '--mail',
      'ops@example.org',
      '--only-problems',
    ],
    { env: env() },
  );
  // late.lab's directory is not enrolled now: a warning, so not all ok
  assert.equal(r.code, 1);
  const text = readFileSync(prom, 'utf8');
  assert.match(text, /^deaddrop_check_host_ok\{host="good\.lab",kind="linux"\} 1$/m);
  assert.match(text, /^deaddrop_check_host_enrolled\{host="late\.lab"\} 0$/m);
  assert.match(
    text,
    new RegExp(`^deaddrop_check_last_incremental_timestamp_seconds\\{host="good\\.lab"\\} ${NOW - DAY}$`, 'm'),
  );
  assert.match(text, /^deaddrop_check_newest_set_complete\{host="good\.lab"\} 1$/m);
  assert.match(text, /^deaddrop_check_problems\{host="late\.lab",severity="warning"\} 1$/m);
  assert.match(text, /^# TYPE deaddrop_check_bytes gauge$/m);
  assert.notEqual(readFileSync(mailOut, 'utf8'), '', 'problems found: mail sent despite --only-problems');
  assert.ok(!existsSync(`${prom}.tmp`));

  // only good.lab in its own root: ok, and --only-problems keeps quiet
  const goodRoot = join(dir, 'good-root');
  mkdirSync(goodRoot);
  const { cpSync } = await import('node:fs');
  cpSync(join(root, 'good.lab'), join(goodRoot, 'good.lab'), { recursive: true });
  writeFileSync(mailOut, '');
  const quiet = await runDeaddrop(
    [
      'check',
      '--root',
      goodRoot,
      '--htpasswd',
      goodHtpasswd,
      '--now',
      String(NOW),
      '--mail',
      'ops@example.org',
      '--only-problems',
    ],
    { env: env() },
  );
  assert.equal(quiet.code, 0, quiet.stdout);
  assert.equal(readFileSync(mailOut, 'utf8'), '');
});

test('every output is tried: a failed --prom-file and a hung sendmail (killed) do not skip the webhook', async () => {
  const hungBin = join(dir, 'hung-bin');
  mkdirSync(hungBin);
  writeFileSync(join(hungBin, 'sendmail'), '#!/bin/sh\ncat > /dev/null\nexec sleep 600\n');
  chmodSync(join(hungBin, 'sendmail'), 0o755);
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push(body);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/abc`;
  try {
    const started = Date.now();
    const r = await runDeaddrop(
      [
        'check',
        '--root',
        root,
        '--htpasswd',
        htpasswd,
        '--now',
        String(NOW),
        '--prom-file',
        join(dir, 'no-such-dir', 'check.prom'),
        '--mail',
        'ops@example.org',
        '--webhook',
        url,
      ],
      { env: { ...process.env, PATH: `${hungBin}:${process.env.PATH}`, DEADDROP_SENDMAIL_TIMEOUT: '1' } },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.ok(Date.now() - started < 30_000, 'sendmail was killed');
    assert.match(r.stderr, /--prom-file .*no-such-dir.*check\.prom/);
    assert.match(r.stderr, /sendmail did not finish in 1 s: killed/);
    assert.equal(received.length, 1, r.stderr);
    assert.match(r.stdout, /late\.lab/);
  } finally {
    server.close();
  }
});

test('--mail: a host directory named with a newline cannot inject a header into the Subject', async () => {
  const evilRoot = join(dir, 'evil-root');
  const { cpSync } = await import('node:fs');
  cpSync(join(root, 'good.lab'), join(evilRoot, 'good.lab'), { recursive: true });
  mkdirSync(join(evilRoot, 'x\nBcc: victim@example.org'));
  const goodHtpasswd = join(dir, 'htpasswd-evil');
  writeFileSync(goodHtpasswd, 'good.lab:x\n');
  writeFileSync(mailOut, '');
  const r = await runDeaddrop(
    ['check', '--root', evilRoot, '--htpasswd', goodHtpasswd, '--now', String(NOW), '--mail', 'ops@example.org'],
    { env: env() },
  );
  assert.equal(r.code, 1, r.stderr);
  const mail = readFileSync(mailOut, 'utf8');
  assert.match(mail, /^Subject: deaddrop check: 0 problems, 1 warnings on x\\u000aBcc: victim@example\.org$/m);
  assert.doesNotMatch(mail, /^Bcc:/m);
  assert.doesNotMatch(r.stdout, /^Bcc:/m);
});

/** A root where every host is ok: a failed notification is then the only reason for a non-zero exit (4). */
function okRoot(): { root: string; htpasswd: string } {
  const okDir = tempDir();
  cpSync(join(root, 'good.lab'), join(okDir, 'root', 'good.lab'), { recursive: true });
  writeFileSync(join(okDir, 'htpasswd'), 'good.lab:x\n');
  return { root: join(okDir, 'root'), htpasswd: join(okDir, 'htpasswd') };
}

test('--webhook: a redirect is a failure (not followed), named on stderr; all hosts ok: exit 4', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url!.startsWith('/hooks/')) res.writeHead(301, { location: '/moved' }).end();
      else res.writeHead(200).end('a login page');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const ok = okRoot();
    const r = await runDeaddrop([
      'check',
      ...['--root', ok.root, '--htpasswd', ok.htpasswd, '--now', String(NOW)],
      ...['--webhook', `${origin}/hooks/s3cr3t`],
    ]);
    assert.equal(r.code, 4, r.stdout + r.stderr);
    assert.match(r.stdout, /1 hosts, 1 ok/);
    assert.match(
      r.stderr,
      new RegExp(`^deaddrop: --webhook ${origin}: HTTP 301, a redirect to ${origin}: not followed`, 'm'),
    );
    assert.doesNotMatch(r.stderr, /s3cr3t/);
    assert.deepEqual(seen, ['POST /hooks/s3cr3t']);
  } finally {
    server.close();
  }
});

test('--webhook: a stalled response body and a refused connection are failures naming --webhook and why (exit 4)', async () => {
  const server = createServer((req, res) => {
    req.resume();
    // 10 bytes promised, 1 sent, never finished
    req.on('end', () => res.writeHead(200, { 'content-length': '10' }).write('x'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const ok = okRoot();
    const args = ['check', '--root', ok.root, '--htpasswd', ok.htpasswd, '--now', String(NOW), '--webhook'];
    const env = { ...process.env, DEADDROP_WEBHOOK_TIMEOUT: '1' };
    const stalled = await runDeaddrop([...args, `${origin}/hooks/s3cr3t`], { env });
    assert.equal(stalled.code, 4, stalled.stderr);
    assert.match(stalled.stderr, new RegExp(`^deaddrop: --webhook ${origin}: .*time`, 'm'));
    assert.doesNotMatch(stalled.stderr, /s3cr3t/);

    // a port nothing listens on (fetch refuses port 1 outright: "bad port")
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await runDeaddrop([...args, `http://127.0.0.1:${port}/hooks/s3cr3t`], { env });
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(`^deaddrop: --webhook http://127\\.0\\.0\\.1:${port}: fetch failed: .*ECONNREFUSED`, 'm'),
    );
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('--prom-file that cannot be written, all hosts ok: exit 4 naming it; problems found: exit 1 all the same', async () => {
  const ok = okRoot();
  const prom = join(tempDir(), 'no-such-dir', 'check.prom');
  const clean = await runDeaddrop([
    'check',
    '--root',
    ok.root,
    '--htpasswd',
    ok.htpasswd,
    '--now',
    String(NOW),
    '--prom-file',
    prom,
  ]);
  assert.equal(clean.code, 4, clean.stderr);
  assert.match(clean.stderr, /--prom-file .*no-such-dir.*check\.prom/);
  assert.match(clean.stdout, /1 hosts, 1 ok/);
  const found = await runDeaddrop(['check', '--root', root, '--htpasswd', htpasswd, '--now', String(NOW), '--prom-file', prom]); // prettier-ignore
  assert.equal(found.code, 1, found.stderr);
  assert.match(found.stderr, /--prom-file .*no-such-dir/);
});
