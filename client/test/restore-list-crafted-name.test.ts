/**
 * `deaddrop list` on a sink directory that also holds a crafted short name whose base-36 time
 * is past year 9999: the name is foreign, the real sets are listed (it used to stop the
 * listing with "Invalid time value").
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runDeaddrop, tempDir } from '@deaddrop/test';
import { makeChain } from './restore-helpers.js';

test('list: a short name dated past 9999 is ignored, the chain is listed', { timeout: 300_000 }, async () => {
  const tmp = tempDir('deaddrop-restore-crafted-');
  const chain = await makeChain(tmp, { incrementals: 1, sinks: 1 });
  writeFileSync(join(chain.sinks[0]!, 'testhost', 'df.zzzzzzzzzz.m.g'), 'x');
  const l = await runDeaddrop(['list', '--from', chain.sinks[0]!, '--host', 'testhost', '--json']);
  assert.equal(l.code, 0, l.stderr);
  const listing = JSON.parse(l.stdout) as { chains: { sets: { type: string }[] }[] };
  assert.deepEqual(
    listing.chains.map((c) => c.sets.map((s) => s.type)),
    [['full', 'inc']],
  );
});
