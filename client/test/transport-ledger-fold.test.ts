/**
 * foldDropped keeps a sink's dropped list to KEEP_DROPPED names: the oldest that nothing needs
 * by name become a count with their range; a set still needed keeps its name however old; a
 * confirmed full clears the count only when it is newer than every folded set.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { confirm, foldDropped, KEEP_DROPPED, type SinkLedger } from '@deaddrop/client/transport/ledger';
import { lagOf } from '@deaddrop/client/transport/spool';

/** Day `i` of 2024 as a basic-format date. */
const day = (i: number) =>
  new Date(Date.UTC(2024, 0, 1) + i * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
const inc = (i: number) => `inc.${day(i)}T000000Z.to.${day(i)}T010000Z`;

test('fold the oldest unneeded dropped names into a count; the lag stays whole; a newer full clears it', () => {
  const dropped = Array.from({ length: KEEP_DROPPED + 20 }, (_, i) => inc(i));
  const ledger: SinkLedger = { version: 1, sink: 'b', confirmed: [], dropped: [...dropped].reverse() };
  const needed = dropped[0]!; // the oldest, still spooled for another sink
  foldDropped(ledger, (k) => k === needed);

  assert.equal(ledger.dropped.length, KEEP_DROPPED);
  assert.ok(ledger.dropped.includes(needed), 'a needed name is kept');
  assert.deepEqual(ledger.droppedEarlier, { count: 20, oldest: dropped[1], newest: dropped[20] });
  assert.deepEqual(lagOf(ledger, []), { count: KEEP_DROPPED + 20, oldest: needed });

  foldDropped(ledger, () => false);
  assert.equal(ledger.droppedEarlier?.count, 20, 'nothing more to fold at the bound');

  confirm(ledger, `full.${day(10)}T000000Z`, true); // older than some folded sets
  assert.equal(ledger.droppedEarlier?.count, 20, 'a full older than folded sets does not clear them');
  confirm(ledger, 'full.20250101T000000Z', true);
  assert.equal(ledger.droppedEarlier, undefined);
  assert.deepEqual(ledger.dropped, []);
  assert.deepEqual(lagOf(ledger, []), { count: 0 });
});
