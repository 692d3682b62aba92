import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deaddropArgv, enrolHosts, missingTools, repoRoot, runCommand, selfSignedCert, tempDir } from '@deaddrop/test';

// sink/units/deaddrop-sink.service: a unit systemd accepts, whose ExecStart line, with this
// machine's paths in place of the unit's, is a working sink.
const unitPath = join(repoRoot, 'sink', 'units', 'deaddrop-sink.service');
const unit = readFileSync(unitPath, 'utf8');
const setting = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1];

test('deaddrop-sink.service passes systemd-analyze verify', { skip: missingTools('systemd-analyze') }, () => {
  const dir = tempDir();
  // verify insists the ExecStart binary exists: point it at a stub
  const bin = join(dir, 'deaddrop');
  writeFileSync(bin, '#!/bin/sh\nexit 0\n');
  chmodSync(bin, 0o755);
  assert.match(unit, /^ExecStart=\/usr\/bin\/deaddrop sink serve /m);
  const copy = join(dir, 'deaddrop-sink.service');
  writeFileSync(copy, unit.replace('/usr/bin/deaddrop', bin));
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', copy], {
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_LOG_LEVEL: 'warning' },
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.deepEqual(
    (r.stdout + r.stderr).split('\n').filter((l) => l.includes('deaddrop-sink')),
    [],
  );
});

/** The unit's `sink serve` options, each path swapped for one of this test's. */
function localArgs(swap: Record<string, string>): string[] {
  const args = setting('ExecStart')!.split(' ').slice(3);
  const out: string[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const [opt, value] = [args[i]!, args[i + 1]];
    assert.ok(opt in swap, `the test does not know the unit's option ${opt} ${value}`);
    out.push(opt, swap[opt]!);
  }
  return out;
}

/** The URL the server says it listens on (its log lines go to stderr). */
function listening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`sink serve exited ${code} before listening: ${out}`)));
  });
}

test(
  "the unit's ExecStart serves TLS PUTs, stops cleanly on SIGTERM, and its restart rules fit the exit codes",
  { skip: missingTools('curl', 'openssl') },
  async () => {
    const dir = tempDir();
    const root = join(dir, 'root');
    const htpasswd = join(dir, 'htpasswd');
    enrolHosts(root, htpasswd, { alice: 'a' });
    const tls = selfSignedCert(dir);
    const args = localArgs({
      '--root': root,
      '--htpasswd': htpasswd,
      '--listen': '127.0.0.1:0',
      '--tls-cert': tls.cert,
      '--tls-key': tls.key,
    });
    const [node, ...pre] = deaddropArgv();
    const server = spawn(node!, [...pre, 'sink', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
    try {
      const url = await listening(server);
      assert.match(url, /^https:\/\//);
      writeFileSync(join(dir, 'body'), 'volume bytes');
      const put = await runCommand('curl', ['-sS', '-f', '--cacert', tls.cert, '-u', 'alice:a', '-T', join(dir, 'body'), `${url}alice/f`]); // prettier-ignore
      assert.equal(put.code, 0, put.stderr);
      assert.equal(readFileSync(join(root, 'alice', 'f'), 'utf8'), 'volume bytes');

      // a second server on the same root exits with a status systemd must not restart on
      const prevent = setting('RestartPreventExitStatus')!.split(' ').map(Number);
      const second = await runCommand(node!, [...pre, 'sink', 'serve', ...args]);
      assert.ok(prevent.includes(second.code!), `exit ${second.code} of a second server: ${second.stderr}`);
      const usage = await runCommand(node!, [...pre, 'sink', 'serve', ...args, '--listen', 'nowhere']);
      assert.ok(prevent.includes(usage.code!), `exit ${usage.code} of a usage error: ${usage.stderr}`);
    } finally {
      server.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    // systemd waits TimeoutStopSec after SIGTERM: longer than the server's default grace (30 s)
    assert.ok(Number(/^(\d+)s$/.exec(setting('TimeoutStopSec')!)?.[1]) > 30);
  },
);
