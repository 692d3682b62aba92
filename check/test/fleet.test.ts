/** Fleet files the check must refuse (exit 2, naming the field) rather than misread. */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runDeaddrop, tempDir } from '@deaddrop/test';
import { writeFleet } from './tree.js';

const dir = tempDir();
const root = join(dir, 'root');
mkdirSync(root);

/** Run the check with a fleet file of these hosts (and defaults); returns the result. */
async function checkWith(hosts: object[], defaults?: object) {
  const file = writeFleet(join(dir, 'fleet.json'), hosts, defaults);
  return runDeaddrop(['check', '--root', root, '--fleet', file, '--quick']);
}

test('a host listed twice is refused, naming the second entry', async () => {
  const r = await checkWith([
    { name: 'a.lab', kind: 'linux' },
    { name: 'b.lab', kind: 'linux' },
    { name: 'a.lab', kind: 'openwrt' },
  ]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /fleet\.json: hosts\[2\]\.name: "a\.lab" is already hosts\[0\]$/m);
  assert.equal(r.stdout, '');
});

test('a threshold without a unit is refused, naming the field (the docs give days; 37 is not 37 s)', async () => {
  const host = await checkWith([{ name: 'a.lab', kind: 'linux', maxFullAge: 37 }]);
  assert.equal(host.code, 2, host.stdout + host.stderr);
  assert.match(host.stderr, /fleet\.json: hosts\[0\]\.maxFullAge: 37 has no unit: write it as "37d"/);
  const defaults = await checkWith([{ name: 'a.lab', kind: 'openwrt', mtdEvery: '7d' }], { maxAge: 7 });
  assert.equal(defaults.code, 2, defaults.stdout + defaults.stderr);
  assert.match(defaults.stderr, /fleet\.json: defaults\.maxAge: 7 has no unit/);
});

test('impossible sizeBounds (min above max, or the median itself out of bounds) are refused, naming the field', async () => {
  const swapped = await checkWith([{ name: 'a.lab', kind: 'linux', sizeBounds: { min: 5, max: 0.1 } }]);
  assert.equal(swapped.code, 2, swapped.stdout + swapped.stderr);
  assert.match(swapped.stderr, /fleet\.json: hosts\[0\]\.sizeBounds: min 5, max 0\.1: need min <= 1 <= max/);
  const high = await checkWith([{ name: 'a.lab', kind: 'linux' }], { sizeBounds: { min: 1.5, max: 3 } });
  assert.equal(high.code, 2, high.stdout + high.stderr);
  assert.match(high.stderr, /fleet\.json: defaults\.sizeBounds: min 1\.5, max 3: need/);
});
