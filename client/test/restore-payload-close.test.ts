/**
 * A stored file read through openPayload (restore/payload.ts: hashes, decrypt, inflate, pulled
 * one from the other) is closed when its reader stops early or the data turns out corrupt: the
 * stream the source opened is destroyed, not left open with a read pending.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { openPayload } from '@deaddrop/client/restore/payload';
import type { RestoreSource } from '@deaddrop/client/restore/source';
import { seededBytes } from '@deaddrop/test';

/** A source of one file, its bytes in 64 KiB reads; `opened` is the stream it gave out. */
function oneFile(bytes: Buffer): RestoreSource & { opened?: Readable } {
  const source: RestoreSource & { opened?: Readable } = {
    where: 'test',
    list: async () => new Map([['f', bytes.length]]),
    open: async () => {
      const chunks = Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) =>
        bytes.subarray(i * 65536, (i + 1) * 65536),
      );
      source.opened = Readable.from(chunks, { objectMode: false });
      return source.opened;
    },
    readSmall: async () => bytes,
    close: () => {},
  };
  return source;
}

const noKey = () => Promise.reject(new Error('no key needed'));
const plain = seededBytes('payload-close', 2 * 1024 * 1024);
const gz = gzipSync(plain, { level: 0 }); // stored blocks: many chunks in, many out

test('a reader that stops after the first chunk: the stored file is closed', async () => {
  const source = oneFile(gz);
  for await (const chunk of await openPayload(source, 'f', noKey, {})) {
    assert.ok(chunk.length > 0);
    break;
  }
  assert.equal(source.opened?.destroyed, true, 'the stream was left open');
});

test('corrupt gzip in the middle: an error naming the file, and the file is closed', async () => {
  const bad = Buffer.from(gz);
  bad.fill(0xff, 300_000, 300_100); // a stored block's header and data: not deflate any more
  const source = oneFile(bad);
  await assert.rejects(async () => {
    for await (const chunk of await openPayload(source, 'f', noKey, {})) assert.ok(chunk);
  }, /f: corrupt or truncated gzip data|f: SHA|differs/);
  assert.equal(source.opened?.destroyed, true, 'the stream was left open');
});

test('read to the end: every byte comes out, hashed against the expected SHA-256', async () => {
  const { createHash } = await import('node:crypto');
  const source = oneFile(gz);
  const out: Buffer[] = [];
  const sha256 = createHash('sha256').update(gz).digest('hex');
  for await (const chunk of await openPayload(source, 'f', noKey, { sha256 })) out.push(Buffer.from(chunk));
  assert.ok(Buffer.concat(out).equals(plain));
  const wrong = oneFile(gz);
  await assert.rejects(async () => {
    for await (const chunk of await openPayload(wrong, 'f', noKey, { sha256: '0'.repeat(64) })) assert.ok(chunk);
  }, /SHA-256 .* differs from the sums file/);
});
