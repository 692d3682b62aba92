/**
 * client/units: `systemd-analyze verify` accepts the backup service and timer (run on copies
 * whose ExecStart names a stub, since verify wants the binary to exist), the hardening the
 * issue asks for is there, and the timer is daily, spread and persistent.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, repoRoot, tempDir } from '@deaddrop/test';

const units = join(repoRoot, 'client', 'units');
const service = () => readFileSync(join(units, 'deaddrop-backup.service'), 'utf8');
const timer = () => readFileSync(join(units, 'deaddrop-backup.timer'), 'utf8');

function verify(dir: string, files: string[]) {
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...files.map((f) => join(dir, f))], {
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_LOG_LEVEL: 'warning' },
  });
  const said = r.stdout + r.stderr;
  return { status: r.status, said, complaints: said.split('\n').filter((l) => l.includes('deaddrop-backup')) };
}

test(
  'deaddrop-backup.service and .timer pass systemd-analyze verify',
  { skip: missingTools('systemd-analyze') },
  () => {
    const dir = tempDir('deaddrop-units-');
    const stub = join(dir, 'deaddrop');
    writeFileSync(stub, '#!/bin/sh\nexit 0\n');
    chmodSync(stub, 0o755);
    const text = service();
    assert.match(text, /^ExecStart=\/usr\/bin\/deaddrop backup --config \/etc\/deaddrop\/client\.json$/m);
    writeFileSync(join(dir, 'deaddrop-backup.service'), text.replace('/usr/bin/deaddrop', stub));
    writeFileSync(join(dir, 'deaddrop-backup.timer'), timer());
    const ok = verify(dir, ['deaddrop-backup.service', 'deaddrop-backup.timer']);
    assert.equal(ok.status, 0, ok.said);
    assert.deepEqual(ok.complaints, []);

    // the same check notices a unit systemd would not run, and a setting it does not know
    writeFileSync(join(dir, 'deaddrop-backup.service'), text.replace('/usr/bin/deaddrop', join(dir, 'missing')));
    const missing = verify(dir, ['deaddrop-backup.service']);
    assert.notEqual(missing.status, 0);
    assert.match(missing.said, /deaddrop-backup\.service: Command .* is not executable/);
    writeFileSync(
      join(dir, 'deaddrop-backup.service'),
      text.replace('/usr/bin/deaddrop', stub).replace('ProtectSystem=strict', 'ProtectSystem=strickt'),
    );
    assert.notDeepEqual(verify(dir, ['deaddrop-backup.service']).complaints, []);
  },
);

test('the service is a hardened oneshot; degraded (exit 4) stays a failure, locked (3) does not', () => {
  const text = service();
  for (const line of [
    'Type=oneshot',
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    'StateDirectory=deaddrop',
    'ReadWritePaths=-/var/lib/prometheus/node-exporter',
    'PrivateTmp=yes',
    'NoNewPrivileges=yes',
    'Nice=10',
    'IOSchedulingClass=idle',
    'CapabilityBoundingSet=CAP_DAC_READ_SEARCH',
    'SuccessExitStatus=3',
  ])
    assert.match(text, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')}$`, 'm'), line);
  assert.doesNotMatch(text, /^SuccessExitStatus=.*\b4\b/m);
  assert.doesNotMatch(text, /^User=/m, 'runs as root to read every file');
});

test('the timer runs the backup daily, spread over an hour, catching up after downtime', () => {
  const text = timer();
  assert.match(text, /^OnCalendar=daily$/m);
  assert.match(text, /^RandomizedDelaySec=1h$/m);
  assert.match(text, /^Persistent=true$/m);
  assert.match(text, /^WantedBy=timers\.target$/m);
});
