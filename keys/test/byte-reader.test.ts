/**
 * The CMS parser's ByteReader over a source that reuses one buffer for every chunk (as the
 * restore's reads do): a read across many chunks still returns the bytes as they came, and
 * an input that ends first is a TruncatedError naming what was being read and where.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteReader, TruncatedError } from '@deaddrop/keys/cms/byte-reader';

/** `data` in chunks of `size`, each copied into the same buffer just before it is given out. */
async function* oneBuffer(data: Buffer, size: number): AsyncGenerator<Buffer> {
  const buf = Buffer.alloc(size);
  for (let at = 0; at < data.length; at += size) {
    const n = data.copy(buf, 0, at, at + size);
    yield buf.subarray(0, n);
  }
}

const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));

test('reads across many chunks of a reused buffer: the bytes as they came', async () => {
  const r = new ByteReader(oneBuffer(data, 100)[Symbol.asyncIterator]());
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
