/**
 * Which chain a restore takes when chains overlap in time (a legacy duplicity chain and a
 * deaddrop chain in one host directory): as duplicity's get_backup_chain_at_time, the chain
 * whose last set at or before the time is newest, not the one with the newest full.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readCatalog, setsAt } from '@deaddrop/client/restore/catalog';
import { setKey } from '@deaddrop/client/format/names';
import type { RestoreSource } from '@deaddrop/client/restore/source';
import { parseTimestamp } from '@deaddrop/common/units';

/** A source that lists these sets (full: T, inc: FROM-TO), each with a manifest and a volume. */
function namesOnly(sets: string[]): RestoreSource {
  const names = new Map<string, number>();
  for (const s of sets) {
    const [from, to] = s.split('-');
    const base = to ? `duplicity-inc.${from}.to.${to}` : `duplicity-full.${from}`;
    names.set(`${base}.manifest`, 1);
    names.set(`${base}.vol1.difftar.gz`, 1);
  }
  return {
    where: 'mem',
    list: async () => names,
    open: () => Promise.reject(new Error('not read')),
    readSmall: () => Promise.reject(new Error('not read')),
    close: () => {},
  };
}

const T = (d: number) => `202611${String(d).padStart(2, '0')}T000000Z`;
const at = (d: number) => parseTimestamp(T(d))!;

async function picked(sets: string[], t: number | undefined): Promise<string[]> {
  return setsAt(await readCatalog(namesOnly(sets)), t).sets.map(setKey);
}

test('overlapping chains: the chain with the newest state at or before the time', async () => {
  // legacy chain: full day 1, inc to day 3; deaddrop chain: full day 2
  const sets = [T(1), `${T(1)}-${T(3)}`, T(2)];
  const legacy = [`full.${T(1)}`, `inc.${T(1)}.to.${T(3)}`];
  assert.deepEqual(await picked(sets, undefined), legacy);
  assert.deepEqual(await picked(sets, at(3)), legacy);
  assert.deepEqual(await picked(sets, at(2)), [`full.${T(2)}`]);
  assert.deepEqual(await picked(sets, at(1)), [`full.${T(1)}`]);
});

test('chains that do not overlap: the newest full at or before the time, as before', async () => {
  const sets = [T(1), `${T(1)}-${T(2)}`, T(3), `${T(3)}-${T(4)}`];
  assert.deepEqual(await picked(sets, undefined), [`full.${T(3)}`, `inc.${T(3)}.to.${T(4)}`]);
  assert.deepEqual(await picked(sets, at(2)), [`full.${T(1)}`, `inc.${T(1)}.to.${T(2)}`]);
  // a full at the same time as another chain's incremental: the full (nothing to apply after it)
  assert.deepEqual(await picked([T(1), `${T(1)}-${T(3)}`, T(3)], undefined), [`full.${T(3)}`]);
});
