/**
 * A sink that stays away is reported in one line of bounded length, "lags since set X (N sets)",
 * not with every set it lacks (a list that grows by one each run).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missingTools } from '@deaddrop/test';
import { backup, hostOnTwoSinks } from './mirror-helpers.js';

const skip = missingTools('sha256sum', 'openssl');

test('a sink down for three runs: "lags since" its first missed set, with the count', { skip }, async () => {
  const { a, b, host } = await hostOnTwoSinks();
  try {
    assert.equal((await backup(host)).code, 0);
    await b.stop();
    const runs = [];
    for (const step of [1, 2, 3]) {
      host.change(step, 10_000);
      runs.push(await backup(host));
    }
    const last = runs[2]!;
    assert.equal(last.code, 4, last.run.stderr);
    const lines = (last.run.stdout + last.run.stderr).split('\n').filter((l) => /sink b (lags|lacks)/.test(l));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.ok(lines[0]!.includes(`lags since ${runs[0]!.result.set} (3 sets)`), lines[0]);
    assert.ok(!lines[0]!.includes(runs[1]!.result.set), 'the sets in between are not listed');
  } finally {
    await a.stop();
    await b.stop();
  }
});
