import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatTimestamp, parseDuration, parseSize, parseTimestamp, UsageError } from '@deaddrop/common';

test('sizes: decimal and binary units, plain numbers', () => {
  assert.equal(parseSize('200MB'), 200_000_000);
  assert.equal(parseSize('200MiB'), 200 * 1024 * 1024);
  assert.equal(parseSize('1.5GiB'), 1.5 * 2 ** 30);
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize(512), 512);
  assert.throws(() => parseSize('lots'), UsageError);
  assert.throws(() => parseSize('12XB'), /not a size/);
  assert.throws(() => parseSize(-1), UsageError);
});

test('durations: s m h d w', () => {
  assert.equal(parseDuration('30d'), 30 * 86400);
  assert.equal(parseDuration('12h'), 43200);
  assert.equal(parseDuration('90m'), 5400);
  assert.equal(parseDuration('2w'), 14 * 86400);
  assert.throws(() => parseDuration('30'), /not a duration/);
  assert.throws(() => parseDuration('1y'), UsageError);
});

test('duplicity time strings round-trip and reject near misses', () => {
  assert.equal(formatTimestamp(1700000000), '20231114T221320Z');
  assert.equal(parseTimestamp('20231114T221320Z'), 1700000000);
  assert.equal(parseTimestamp('20231314T221320Z'), undefined); // month 13
  assert.equal(parseTimestamp('20231114T221320'), undefined);
  for (const t of [0, 86399, 951782400, 4102444799]) assert.equal(parseTimestamp(formatTimestamp(t)), t);
});

test('formatBytes uses binary units', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(3 * 2 ** 30), '3.0 GiB');
});
