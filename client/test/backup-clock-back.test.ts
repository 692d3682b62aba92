/**
 * A clock stepped back (NTP correcting a fast clock, a VM snapshot) after a run: the last set's
 * time is ahead of the clock. The next set must be named after it and its time must be taken
 * before anything is read, so the run cannot name it "last + 1": it waits a few seconds at most
 * (as duplicity's 2 s); a longer skew fails the run at once (exit 1) with a message naming the
 * last set's time and how far behind the clock is, instead of sleeping for hours holding the lock.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { InterruptedError } from '@deaddrop/client/ops/interrupt';
import { ClockBehindError, freeSetTime, nowSeconds } from '@deaddrop/client/backup/set-time';
import { makeTestRecipient, missingTools, runDeaddrop, tempDir, writeLocalClientConfig } from '@deaddrop/test';

/** A preload that moves Node's clock `seconds` ahead: a run on a fast system clock. */
function fastClock(dir: string, seconds: number): NodeJS.ProcessEnv {
  const file = join(dir, `fast-${seconds}.mjs`);
  writeFileSync(file, `const n = Date.now; Date.now = () => n() + ${seconds * 1000};\n`);
  return { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${file}` };
}

test(
  'after the clock is set back 10 minutes the next run fails at once, saying why; once past, it goes on',
  { skip: missingTools('openssl') },
  async () => {
    const tmp = tempDir('deaddrop-clock-back-');
    const src = join(tmp, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'a\n');
    const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
    const c = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath] });
    // a run that sleeps until the clock catches up is killed: it would hold the test for 10 minutes
    const backup = (env: NodeJS.ProcessEnv = process.env) =>
      runDeaddrop(['backup', '--config', c.config], { env, timeout: 30_000, killSignal: 'SIGKILL' });

    const first = await backup(fastClock(tmp, 600));
    assert.equal(first.code, 0, first.stderr);
    writeFileSync(join(src, 'a'), 'b\n');

    const started = Date.now();
    const second = await backup();
    const took = (Date.now() - started) / 1000;
    assert.equal(second.code, 1, second.stderr);
    assert.ok(took < 15, `the run took ${took} s`);
    const state = JSON.parse(readFileSync(join(c.archiveDir, 'state.json'), 'utf8')) as { chain: { time: number }[] };
    const last = new Date(state.chain[0]!.time * 1000).toISOString().replace(/[-:]|\.000/g, '');
    assert.match(second.stderr, new RegExp(`last backup set ${last} .* is (9|10) min ahead of the clock`));
    assert.match(second.stderr, /fix the clock/);
    assert.equal(readdirSync(c.sinkHostDir).filter((n) => n.endsWith('.sha256sums')).length, 1);

    // the clock past the last set again (here: the same fast clock): the chain goes on
    const third = await backup(fastClock(tmp, 600));
    assert.equal(third.code, 0, third.stderr);
    const sums = readdirSync(c.sinkHostDir).filter((n) => n.endsWith('.sha256sums'));
    assert.deepEqual(sums.map((n) => n.split('.')[0]).sort(), ['deaddrop-full', 'deaddrop-inc']);
  },
);

test('a short wait for the clock is kept, and a signal ends it at once', async () => {
  const ac = new AbortController();
  const after = nowSeconds() + 2;
  const started = Date.now();
  setTimeout(() => ac.abort(new InterruptedError('SIGTERM')), 100);
  await assert.rejects(freeSetTime(after, new Set(), ac.signal), InterruptedError);
  assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
  // without a signal the short wait ends just past the last set's second
  const last = nowSeconds();
  assert.equal(await freeSetTime(last, new Set()), last + 1);
});

test('a long wait for the clock is not slept: it fails at once', async () => {
  const started = Date.now();
  await assert.rejects(freeSetTime(nowSeconds() + 3600, new Set()), ClockBehindError);
  assert.ok(Date.now() - started < 100);
});
