/**
 * Condition (common/condition.ts): until() waits for its predicate across notify()s and throws
 * the first failure; settled() waits whatever failed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Condition } from '@deaddrop/common/condition';

test('until() resolves once the predicate holds, looking again at each notify()', async () => {
  const c = new Condition();
  let n = 0;
  const waiting = c.until(() => n >= 3);
  for (let i = 0; i < 3; i++) {
    n++;
    c.notify();
    await new Promise((r) => setImmediate(r));
  }
  await waiting;
  assert.equal(n, 3);
});

test('until() throws the first failure; settled() still waits for its predicate', async () => {
  const c = new Condition();
  let done = false;
  const waiting = c.until(() => done);
  c.fail(new Error('first'));
  c.fail(new Error('second'));
  await assert.rejects(waiting, /first/);
  await assert.rejects(
    c.until(() => true),
    /first/,
  );
  const settled = c.settled(() => done);
  let over = false;
  void settled.then(() => (over = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(over, false);
  done = true;
  c.notify();
  await settled;
});
