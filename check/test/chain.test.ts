import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupSets, parseSinkName, sumsFileName, type SinkFileName } from '@deaddrop/client/format/names';
import { linkWithBreaks } from '../src/chain.js';

const T = (n: number) => 1_800_000_000 + n * 86400;

/** Sets of sums files only: full at f, incrementals as [start, end] pairs (times in days). */
function sets(f: number, incs: [number, number][]) {
  const names = [sumsFileName(T(f)), ...incs.map(([a, b]) => sumsFileName(T(b), T(a)))];
  return groupSets(names.map((n) => parseSinkName(n)!) as SinkFileName[]);
}

test('two gaps in a chain: two breaks, each from where the chain (or the break before) reaches', () => {
  // 0 -> 1, [1 -> 2 missing], 2 -> 3 -> 4, [4 -> 5 missing], 5 -> 6; 3.5 -> 4.5 overlaps the first break
  const l = linkWithBreaks(
    sets(0, [
      [0, 1],
      [2, 3],
      [3, 4],
      [5, 6],
      [3.5, 4.5],
    ]),
    () => true,
  );
  assert.equal(l.chains.length, 1);
  assert.equal(l.chains[0]!.endTime, T(1));
  assert.deepEqual(
    l.breaks.map((b) => [b.from, b.to, b.sets.map((s) => s.time)]),
    [
      [T(1), T(2), [T(3), T(4)]],
      [T(4), T(5), [T(6)]],
    ],
  );
  assert.deepEqual(
    l.strays.map((s) => s.time),
    [T(4.5)],
  );
  assert.equal(l.reach.get(l.chains[0]!), T(6));
});

test('an incremental with no full before it is a stray, not a break', () => {
  const l = linkWithBreaks(sets(5, [[1, 2]]), () => true);
  assert.deepEqual(l.breaks, []);
  assert.deepEqual(
    l.strays.map((s) => s.time),
    [T(2)],
  );
});
