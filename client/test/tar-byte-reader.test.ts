/**
 * The tar reader's ByteReader over a source that reuses one buffer for every chunk (as the
 * restore's inflate does): a read across many chunks returns the bytes as they came; at the
 * end of the data, what there was.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { oneBufferChunks } from '@deaddrop/test';
import { ByteReader } from '@deaddrop/client/backup/byte-reader';

const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 13 + (i >> 8)) & 0xff));

test('reads across many chunks of a reused buffer: the bytes as they came', async () => {
  const r = new ByteReader(oneBufferChunks(data, 512));
  assert.ok((await r.read(100)).equals(data.subarray(0, 100)));
  assert.ok((await r.read(4_000)).equals(data.subarray(100, 4_100)), 'a read across 9 chunks');
  assert.equal(await r.skip(5_000), 5_000);
  const tail = await r.read(2_000);
  assert.ok(tail.equals(data.subarray(9_100)), 'the rest, shorter than asked');
  assert.equal((await r.read(10)).length, 0);
});
