/**
 * Digests taken on the thread pool (client/native/digest.c through native/digest.ts) are
 * node:crypto's, whatever the chunks: empty, one byte, larger than a read, many queued at once;
 * a caller that queues more than the backlog is asked to wait. Without the addon built these
 * tests skip; in CI that is a failure.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { chunkDigest, poolDigests, type DigestName } from '@deaddrop/client/native/digest';
import { POOL_ADDONS_MISSING, cutInPieces, missingUnless, seededBytes } from '@deaddrop/test';

const skip = missingUnless(poolDigests(), POOL_ADDONS_MISSING);

const data = seededBytes('digest', 3 * 1024 * 1024 + 17);
const cuts = [0, 1, 0, 65536, 7, 1024 * 1024, 300_000];

for (const name of ['sha1', 'sha256', 'md5'] as DigestName[])
  test(`${name} on the pool, fed in pieces of 0 bytes to 1 MiB, is node:crypto's`, { skip }, async () => {
    const d = chunkDigest(name);
    let waited = 0;
    for (const p of cutInPieces(data, cuts)) {
      const backlog = d.update(p); // not awaited unless asked: several are queued at once
      if (backlog) {
        waited++;
        await backlog;
      }
    }
    assert.equal(await d.digest(), createHash(name).update(data).digest('hex'));
    assert.ok(waited > 0, 'queued all at once, the caller was asked to wait');
  });

test('nothing fed: the digest of no bytes', { skip }, async () => {
  assert.equal(await chunkDigest('sha256').digest(), createHash('sha256').digest('hex'));
});

test('a chunk may be overwritten as soon as update() returns: the pool hashes its copy', { skip }, async () => {
  const d = chunkDigest('sha256');
  const buf = Buffer.alloc(256 * 1024);
  const expected = createHash('sha256');
  for (let i = 0; i < 12; i++) {
    buf.fill(i + 1); // the caller's one buffer, reused for every chunk
    expected.update(buf);
    const backlog = d.update(buf);
    buf.fill(0xee); // scribbled on while the pool may still be hashing
    if (backlog) await backlog;
  }
  assert.equal(await d.digest(), expected.digest('hex'));
});
