import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { deaddropArgv, missingTools, repoRoot, runCommand, tempDir } from '@deaddrop/test';
import { writeFleet } from './tree.js';

const units = join(repoRoot, 'check', 'units');

test('deaddrop-check.service and .timer pass systemd-analyze verify', { skip: missingTools('systemd-analyze') }, () => {
  const dir = tempDir();
  // verify insists the ExecStart binary exists: point it at a stub
  const bin = join(dir, 'deaddrop');
  writeFileSync(bin, '#!/bin/sh\nexit 0\n');
  chmodSync(bin, 0o755);
  const service = readFileSync(join(units, 'deaddrop-check.service'), 'utf8');
  // the same path as the client's unit, the one docs/OPERATIONS.md links the CLI to
  assert.match(service, /^ExecStart=\/usr\/bin\/deaddrop check --root \S+ --fleet \S+/m);
  writeFileSync(join(dir, 'deaddrop-check.service'), service.replace('/usr/bin/deaddrop', bin));
  writeFileSync(join(dir, 'deaddrop-check.timer'), readFileSync(join(units, 'deaddrop-check.timer')));
  const r = spawnSync(
    'systemd-analyze',
    ['verify', '--man=no', join(dir, 'deaddrop-check.service'), join(dir, 'deaddrop-check.timer')],
    {
      encoding: 'utf8',
      env: { ...process.env, SYSTEMD_LOG_LEVEL: 'warning' },
    },
  );
  const complaints = (r.stdout + r.stderr).split('\n').filter((l) => l.includes('deaddrop-check'));
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.deepEqual(complaints, []);

  // and a broken unit is caught by the same check (the test can fail)
  writeFileSync(join(dir, 'deaddrop-check.service'), service.replace('/usr/bin/deaddrop', join(dir, 'missing')));
  const bad = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, 'deaddrop-check.service')], {
    encoding: 'utf8',
  });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stdout + bad.stderr, /deaddrop-check\.service: Command .* is not executable/);
});

test('the timer triggers the service weekly', () => {
  const timer = readFileSync(join(units, 'deaddrop-check.timer'), 'utf8');
  assert.match(timer, /^OnCalendar=weekly$/m);
  assert.match(timer, /^Persistent=true$/m);
  assert.match(timer, /^WantedBy=timers\.target$/m);
});

/** The values of a unit setting, every line of it joined (`-` prefixes kept). */
function setting(unit: string, key: string): string[] {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].flatMap((m) => m[1]!.trim().split(/\s+/));
}

test('the service may write what its ExecStart writes: the prom file and the mail queue', () => {
  const service = readFileSync(join(units, 'deaddrop-check.service'), 'utf8');
  const exec = /^ExecStart=(.*)$/m.exec(service)![1]!.split(/\s+/);
  const writable = setting(service, 'ReadWritePaths').map((p) => p.replace(/^-/, ''));
  assert.match(service, /^ProtectSystem=strict$/m);
  const prom = exec[exec.indexOf('--prom-file') + 1]!;
  assert.ok(writable.includes(dirname(prom)), `ReadWritePaths lacks ${dirname(prom)}: ${writable.join(' ')}`);
  // sendmail (postfix's postdrop) queues the mail in its spool
  if (exec.includes('--mail')) assert.ok(writable.includes('/var/spool/postfix'), writable.join(' '));
});

test(
  "with the unit's capabilities root writes the prom file into a textfile directory it does not own",
  { skip: (process.getuid?.() !== 0 && 'needs root') || missingTools('setpriv') },
  async () => {
    const service = readFileSync(join(units, 'deaddrop-check.service'), 'utf8');
    const caps = setting(service, 'CapabilityBoundingSet').map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`);
    const dir = tempDir();
    // node_exporter's textfile directory, as its package makes it: the exporter's user owns it
    const textfile = join(dir, 'node-exporter');
    mkdirSync(textfile);
    chownSync(textfile, 65534, 65534);
    chmodSync(textfile, 0o755);
    mkdirSync(join(dir, 'root'));
    const fleet = writeFleet(join(dir, 'fleet.json'), [{ name: 'gone.lab', kind: 'linux' }]);
    const prom = join(textfile, 'deaddrop-check.prom');
    const [cmd, ...rest] = deaddropArgv();
    const r = await runCommand('setpriv', [
      `--bounding-set=-all,${caps.join(',')}`,
      '--inh-caps=-all',
      cmd!,
      ...rest,
      ...['check', '--root', join(dir, 'root'), '--fleet', fleet, '--quick', '--prom-file', prom],
    ]);
    // gone.lab has no directory: exit 1, and the metrics say so
    assert.equal(r.code, 1, r.stderr);
    assert.ok(existsSync(prom), r.stderr);
    assert.match(readFileSync(prom, 'utf8'), /^deaddrop_check_ok 0$/m);
  },
);
