/**
 * The CMS parser's ByteReader over a source that reuses one buffer for every chunk (as the
 * restore's reads do): a read across many chunks still returns the bytes as they came, and
 * an input that ends first is a TruncatedError naming what was being read and where.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { oneBufferChunks } from '@deaddrop/test';
import { ByteReader, TruncatedError } from '@deaddrop/keys/cms/byte-reader';

const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));

test('reads across many chunks of a reused buffer: the bytes as they came', async () => {
  const r = new ByteReader(oneBufferChunks(data, 100)[Symbol.asyncIterator]());
  assert.ok((await r.read(5, 'head')).equals(data.subarray(0, 5)));
  assert.ok((await r.read(2_000, 'span')).equals(data.subarray(5, 2_005)), 'a read across 21 chunks');
  assert.ok((await r.read(95, 'rest of a chunk')).equals(data.subarray(2_005, 2_100)));
  assert.equal(r.position, 2_100);
  await r.skip(7_000, 'skip');
  await assert.rejects(r.read(1_000, 'the tail'), (err: Error) => {
    assert.ok(err instanceof TruncatedError);
    assert.match(err.message, /input ends inside the tail \(at byte 10000\)/);
    return true;
  });
});
