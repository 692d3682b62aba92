/**
 * bcrypt off the server's thread, fairly: a flood of checks from one client neither keeps the
 * event loop busy nor makes another client's check wait for the whole flood, and a client with
 * too many checks waiting is refused at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { bcryptHash } from '../src/htpasswd.js';
import { BusyError, PasswordChecks } from '../src/password-checks.js';

const hash = bcryptHash('right', 10);

test('checks run in a worker, clients take turns: one check from b waits for one of a’s, not six', async () => {
  const checks = new PasswordChecks(8);
  const done: string[] = [];
  const start = performance.eventLoopUtilization();
  const all = [
    ...Array.from({ length: 6 }, (_, i) => checks.compare('wrong', hash, 'a').then((ok) => done.push(`a${i}:${ok}`))),
    checks.compare('right', hash, 'b').then((ok) => done.push(`b:${ok}`)),
  ];
  await Promise.all(all);
  const busy = performance.eventLoopUtilization(start).utilization;
  await checks.close();
  assert.deepEqual(done, ['a0:false', 'b:true', 'a1:false', 'a2:false', 'a3:false', 'a4:false', 'a5:false']);
  // seven cost-10 comparisons on this thread would keep it busy nearly all of the time
  assert.ok(busy < 0.5, `the event loop was busy ${(busy * 100).toFixed(0)}% of the time`);
});

test('a client with its share of checks waiting is refused at once; others still get theirs', async () => {
  const checks = new PasswordChecks(2);
  const a = [checks.compare('wrong', hash, 'a'), checks.compare('wrong', hash, 'a')];
  await assert.rejects(checks.compare('wrong', hash, 'a'), BusyError);
  assert.equal(await checks.compare('right', hash, 'b'), true);
  assert.deepEqual(await Promise.all(a), [false, false]);
  assert.equal(await checks.compare('right', hash, 'a'), true, 'a may check again once its checks are answered');
  await checks.close();
});
