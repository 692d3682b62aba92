import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, repoRoot, tempDir } from '@deaddrop/test';

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
