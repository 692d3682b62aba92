import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LockedError } from '../src/errors.js';
import { acquirePidLock, currentOwner, formatOwner, parseOwner } from '../src/pid-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'deaddrop-pid-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A pid no process has: above the kernel's pid_max. */
const DEAD_PID = 4_194_400;

test('a live owner keeps the lock: LockedError names its pid; released, it can be taken', async () => {
  const path = join(dir, 'live');
  const first = await acquirePidLock(path, 'the first');
  assert.equal(first.tookOver, false);
  assert.equal(parseOwner(readFileSync(path, 'utf8'))?.pid, process.pid);
  const holder = spawn('sleep', ['30']);
  try {
    await first.release();
    writeFileSync(path, `${holder.pid}\n`); // what older versions wrote: the pid alone
    await assert.rejects(acquirePidLock(path, 'another run'), (err: Error) => {
      assert.ok(err instanceof LockedError);
      assert.equal(err.message, `another run (pid ${holder.pid}) holds ${path}`);
      return true;
    });
  } finally {
    holder.kill();
  }
  await new Promise((r) => holder.once('exit', r));
  const second = await acquirePidLock(path, 'another run');
  assert.equal(second.tookOver, true);
  await second.release();
  assert.equal(existsSync(path), false);
});

test('a lock from another boot is stale even when its pid runs now (pids restart at boot)', async () => {
  const path = join(dir, 'reboot');
  const me = currentOwner();
  if (me.boot === '') return assert.fail('no /proc/sys/kernel/random/boot_id on this machine');
  // pid 1 always runs; the boot id differs from this boot's
  writeFileSync(path, formatOwner({ pid: 1, boot: '00000000-0000-0000-0000-000000000000', start: '1' }));
  const lock = await acquirePidLock(path, 'x');
  assert.equal(lock.tookOver, true);
  await lock.release();
  // the same pid and boot but another start time: that pid was reused by another process
  writeFileSync(path, formatOwner({ pid: 1, boot: me.boot, start: '999999999999' }));
  const again = await acquirePidLock(path, 'x');
  assert.equal(again.tookOver, true);
  await again.release();
});

// Each racer takes the lock, notes when it held it, holds it a while, releases it.
const RACER = `
import { appendFileSync } from 'node:fs';
import { acquirePidLock } from ${JSON.stringify(new URL('../src/pid-lock.ts', import.meta.url).href)};
const [path, log, startAt] = process.argv.slice(2);
while (Date.now() < Number(startAt)) {}
try {
  const lock = await acquirePidLock(path, 'a racer');
  const t0 = performance.timeOrigin + performance.now();
  await new Promise((r) => setTimeout(r, 150));
  const t1 = performance.timeOrigin + performance.now();
  await lock.release();
  appendFileSync(log, t0 + ' ' + t1 + '\\n');
} catch (err) {
  if (err.name !== 'LockedError') throw err;
}
`;

function runRacer(script: string, path: string, log: string, startAt: number): Promise<number | null> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, path, log, String(startAt)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return new Promise((resolve) => child.once('exit', resolve));
}

test('racers that find the same stale lock: never two holders at once', { timeout: 120_000 }, async () => {
  const script = join(dir, 'racer.mjs');
  writeFileSync(script, RACER);
  for (let trial = 0; trial < 6; trial++) {
    const path = join(dir, `race-${trial}`);
    const log = join(dir, `race-${trial}.log`);
    writeFileSync(path, `${DEAD_PID}\n`);
    writeFileSync(log, '');
    const startAt = Date.now() + 1500; // past every racer's start-up
    const codes = await Promise.all(Array.from({ length: 6 }, () => runRacer(script, path, log, startAt)));
    assert.deepEqual(codes, [0, 0, 0, 0, 0, 0]);
    const held = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ').map(Number) as [number, number])
      .sort((a, b) => a[0] - b[0]);
    assert.ok(held.length >= 1, `trial ${trial}: someone took the stale lock`);
    for (let i = 1; i < held.length; i++)
      assert.ok(held[i]![0] >= held[i - 1]![1], `trial ${trial}: two holders at once: ${JSON.stringify(held)}`);
  }
});
