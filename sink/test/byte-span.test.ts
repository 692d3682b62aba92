/**
 * The one byte span of a reader's `Range` header (get.ts): what nginx answers 206 for, and what
 * is ignored (the whole file, 200) or unsatisfiable (416). sink-conformance checks the answers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { byteSpan } from '@deaddrop/sink/get';

test('one span: from, from-to (cut at the end), the last N', () => {
  assert.deepEqual(byteSpan('bytes=100-', 1000), [100, 999]);
  assert.deepEqual(byteSpan('bytes=0-0', 1000), [0, 0]);
  assert.deepEqual(byteSpan('bytes=990-5000', 1000), [990, 999]);
  assert.deepEqual(byteSpan('bytes=-10', 1000), [990, 999]);
  assert.deepEqual(byteSpan('bytes=-5000', 1000), [0, 999]);
  assert.deepEqual(byteSpan(' bytes=5-6 ', 1000), [5, 6]);
});

test('past the end, or nothing of an empty file: unsatisfiable', () => {
  assert.equal(byteSpan('bytes=1000-', 1000), 'unsatisfiable');
  assert.equal(byteSpan('bytes=-0', 1000), 'unsatisfiable');
  assert.equal(byteSpan('bytes=0-', 0), 'unsatisfiable');
  assert.equal(byteSpan('bytes=-1', 0), 'unsatisfiable');
});

test('not one byte span: ignored (the whole file)', () => {
  for (const h of ['bytes=0-1,5-6', 'bytes=5-2', 'bytes=-', 'items=0-1', 'bytes=a-b', 'bytes 0-1', ''])
    assert.equal(byteSpan(h, 1000), undefined, h);
});
