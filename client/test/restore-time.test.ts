/**
 * --time: every form duplicity accepts, and a date or time whose fields are out of range
 * (a DD/MM date read as MM/DD, February 30) refused as a usage error naming the value,
 * never rolled over into another date.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRestoreTime } from '@deaddrop/client/restore/when';

const utc = (iso: string) => Date.parse(iso) / 1000;

test('the accepted forms', () => {
  const now = utc('2026-11-24T12:00:00Z');
  assert.equal(parseRestoreTime('now', now), now);
  assert.equal(parseRestoreTime('1700000000', now), 1700000000);
  assert.equal(parseRestoreTime('1h30m', now), now - 5400);
  assert.equal(parseRestoreTime('20261123T030405Z', now), utc('2026-11-23T03:04:05Z'));
  assert.equal(parseRestoreTime('2026/11/23', now), utc('2026-11-23T00:00:00Z'));
  assert.equal(parseRestoreTime('11/23/2026', now), utc('2026-11-23T00:00:00Z'));
  assert.equal(parseRestoreTime('2024/2/29', now), utc('2024-02-29T00:00:00Z'));
  assert.equal(parseRestoreTime('2026-11-23', now), utc('2026-11-23T00:00:00Z'));
  assert.equal(parseRestoreTime('2026-11-23T03:00', now), utc('2026-11-23T03:00:00Z'));
  assert.equal(parseRestoreTime('2026-11-23 03:00:09.5', now), utc('2026-11-23T03:00:09Z'));
  assert.equal(parseRestoreTime('2026-11-23T03:00:00Z', now), utc('2026-11-23T03:00:00Z'));
  assert.equal(parseRestoreTime('2026-11-23T03:00:00+01:00', now), utc('2026-11-23T02:00:00Z'));
  assert.equal(parseRestoreTime('2026-12-31T23:59:59-05:30', now), utc('2027-01-01T05:29:59Z'));
  assert.equal(parseRestoreTime('2026-11-23Z', now), utc('2026-11-23T00:00:00Z'), 'a date with its zone');
  assert.equal(parseRestoreTime('2026-11-23+01:00', now), utc('2026-11-22T23:00:00Z'));
});

test('out-of-range fields are a usage error naming the value', () => {
  for (const text of [
    '23/11/2026',
    '01/45/2026',
    '2026/13/05',
    '2026/00/05',
    '2026-02-30',
    '2025-02-29',
    '2026-04-31',
    '2026-11-23T24:00',
    '2026-11-23T03:60',
    '2026-11-23T03:00:60Z',
    '2026-11-23T03:00+25:00',
    '20261323T030405Z',
  ])
    assert.throws(
      () => parseRestoreTime(text),
      (e: Error) => e.name === 'UsageError' && e.message.startsWith(`--time "${text}": `),
      text,
    );
});
