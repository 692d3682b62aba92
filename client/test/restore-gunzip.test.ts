/**
 * The restore's gunzip through ISA-L's igzip (restore/gunzip.ts): members one after the other,
 * fed in pieces of any size, give zlib's bytes; zero padding after the last member ends the
 * data; a wrong CRC-32, a cut member or bytes that are no member are errors, as they are for
 * zlib. Without the addon built these tests skip; in CI that is a failure.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { gzipMember } from '@deaddrop/client/backup/gzip-member';
import { igzip } from '@deaddrop/client/native/igzip';
import { GzipError, igzipInflate } from '@deaddrop/client/restore/gunzip';
import { ADDON_MISSING, missingUnless, seededBytes } from '@deaddrop/test';

const skip = missingUnless(igzip() !== null, ADDON_MISSING);

async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

async function inflateAll(data: Buffer, size: number): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of igzipInflate(igzip()!, pieces(data, size))) out.push(Buffer.from(chunk));
  return Buffer.concat(out);
}

function text(bytes: number): Buffer {
  const line = (i: number) => `line ${i} of the log, user u${i % 7}, took ${(i * 37) % 1000} ms\n`;
  let s = '';
  for (let i = 0; s.length < bytes; i++) s += line(i);
  return Buffer.from(s.slice(0, bytes));
}

// members of every kind: igzip's and zlib's, deflated and stored, empty, and larger than one output chunk
const parts = [
  text(300_000),
  seededBytes('gunzip-1', 70_000),
  Buffer.alloc(0),
  text(1_500_000),
  seededBytes('gunzip-2', 5),
];
const members = [
  gzipMember(parts[0]!, 1),
  gzipMember(parts[1]!, 3),
  gzipSync(parts[2]!),
  gzipSync(parts[3]!, { level: 6 }),
  gzipMember(parts[4]!, 0),
];
const plain = Buffer.concat(parts);
const gz = Buffer.concat(members);

test('members one after the other come out as zlib reads them, in pieces of any size', { skip }, async () => {
  assert.deepEqual(gunzipSync(gz), plain); // the oracle agrees on the input
  for (const size of [1, 7, 4096, 65_536, gz.length]) {
    const out = await inflateAll(gz, size);
    assert.equal(out.length, plain.length, `pieces of ${size}`);
    assert.ok(out.equals(plain), `pieces of ${size}: bytes differ`);
  }
});

test('zero padding after the last member ends the data', { skip }, async () => {
  const padded = Buffer.concat([gz, Buffer.alloc(10_240)]);
  assert.ok((await inflateAll(padded, 3000)).equals(plain));
});

test('a wrong CRC-32 is an error, not data', { skip }, async () => {
  const bad = Buffer.from(gzipMember(parts[0]!, 1));
  bad[bad.length - 8]! ^= 0x01; // the trailer's CRC-32
  await assert.rejects(inflateAll(bad, 65_536), (err: Error) => err instanceof GzipError && /CRC-32/.test(err.message));
});

test('a member cut short is an error', { skip }, async () => {
  const cut = gz.subarray(0, members[0]!.length + 1000);
  await assert.rejects(
    inflateAll(cut, 65_536),
    (err: Error) => err instanceof GzipError && /end of data/.test(err.message),
  );
  const noTrailer = members[0]!.subarray(0, members[0]!.length - 4);
  await assert.rejects(inflateAll(noTrailer, 65_536), GzipError);
});

test('bytes after a member that are no gzip member are an error', { skip }, async () => {
  const junk = Buffer.concat([members[0]!, Buffer.from('not gzip at all')]);
  assert.throws(() => gunzipSync(junk)); // zlib refuses it too
  await assert.rejects(
    inflateAll(junk, 65_536),
    (err: Error) => err instanceof GzipError && /gzip header/.test(err.message),
  );
});
