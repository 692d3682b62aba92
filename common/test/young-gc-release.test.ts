/**
 * release(): a promoted Buffer's memory goes at the next scavenge, not at a full GC; Buffers of
 * Node's shared pool are never detached (their neighbours would lose their bytes).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { release } from '@deaddrop/common/young-gc';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (opts?: { type: 'minor' | 'major' }) => void;
const MiB = 1 << 20;
/** Two scavenges: the second waits for the first one's sweeping of ArrayBuffers (concurrent). */
const scavenge = () => {
  gc({ type: 'minor' });
  gc({ type: 'minor' });
};

test('a released Buffer that survived into the old generation is freed by a scavenge', () => {
  const held = Array.from({ length: 32 }, (_, i) => Buffer.alloc(MiB, i));
  gc(); // twice through the collector: promoted, as a Buffer queued behind others is
  gc();
  const before = process.memoryUsage().arrayBuffers;
  scavenge();
  assert.ok(before - process.memoryUsage().arrayBuffers < MiB, 'a scavenge alone frees none of them');
  for (const b of held) release(b);
  assert.equal(held[0]!.length, 0, 'the released view is empty');
  scavenge();
  const freed = before - process.memoryUsage().arrayBuffers;
  assert.ok(freed >= 31 * MiB, `the scavenge freed ${(freed / MiB).toFixed(1)} MiB of 32`);
});

test('a Buffer of the shared pool is left alone', () => {
  const a = Buffer.from('first slice of the pool');
  const b = Buffer.from('its neighbour');
  assert.equal(a.buffer, b.buffer, 'both on one pool slab');
  release(a);
  assert.equal(a.toString(), 'first slice of the pool');
  assert.equal(b.toString(), 'its neighbour');
});
