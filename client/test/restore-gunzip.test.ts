/**
 * The restore's gunzip through ISA-L's igzip (restore/gunzip.ts): members one after the other,
 * fed in pieces of any size, give zlib's bytes; zero padding after the last member ends the
 * data; a wrong CRC-32, a cut member or bytes that are no member are errors, as they are for
 * zlib. Headers with optional fields (gzip(1) writes FNAME) are read whatever pieces they come in. Without the addon built these tests skip; in CI that is a failure.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32, deflateRawSync, gunzipSync, gzipSync } from 'node:zlib';
import { gzipMember } from '@deaddrop/client/backup/gzip-member';
import { igzipInflater } from '@deaddrop/client/native/igzip';
import { GzipError, igzipInflate } from '@deaddrop/client/restore/gunzip';
import { ADDON_MISSING, missingUnless, seededBytes } from '@deaddrop/test';

const skip = missingUnless(igzipInflater() !== null, ADDON_MISSING);

async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

async function inflateAll(data: Buffer, size: number): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of igzipInflate(igzipInflater()!, pieces(data, size))) out.push(Buffer.from(chunk));
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

interface HeaderFields {
  extra?: Buffer;
  name?: string;
  comment?: string;
  hcrc?: boolean;
  flags?: number;
}

/** A gzip member with the optional header fields given (RFC 1952 §2.3), and its header's length. */
function memberWith(data: Buffer, f: HeaderFields): { member: Buffer; headerLength: number } {
  const flags = (f.flags ?? 0) | (f.hcrc ? 2 : 0) | (f.extra ? 4 : 0) | (f.name ? 8 : 0) | (f.comment ? 16 : 0);
  const parts: Buffer[] = [Buffer.from([0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3])];
  if (f.extra) parts.push(Buffer.from([f.extra.length & 0xff, f.extra.length >> 8]), f.extra);
  if (f.name) parts.push(Buffer.from(`${f.name}\0`));
  if (f.comment) parts.push(Buffer.from(`${f.comment}\0`));
  let header = Buffer.concat(parts);
  if (f.hcrc) {
    const c = crc32(header) & 0xffff;
    header = Buffer.concat([header, Buffer.from([c & 0xff, c >> 8])]);
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data));
  trailer.writeUInt32LE(data.length, 4);
  return { member: Buffer.concat([header, deflateRawSync(data), trailer]), headerLength: header.length };
}

async function inflateSplit(data: Buffer, at: number): Promise<Buffer> {
  const out: Buffer[] = [];
  const src = (async function* () {
    yield Buffer.from(data.subarray(0, at));
    yield Buffer.from(data.subarray(at));
  })();
  for await (const chunk of igzipInflate(igzipInflater()!, src)) out.push(Buffer.from(chunk));
  return Buffer.concat(out);
}

test('headers with a name, a comment, extra data and a header CRC, split anywhere', { skip }, async () => {
  // ISA-L parsing such a header itself refused it at random when it came in two pieces
  const data = text(5000);
  const kinds: HeaderFields[] = [
    { name: 'vol1.difftar' },
    { extra: Buffer.alloc(20, 7) },
    { comment: 'made by gzip' },
    { hcrc: true },
    { extra: Buffer.alloc(3000, 1), name: 'a', comment: 'b', hcrc: true },
  ];
  const first = gzipSync(parts[0]!);
  for (const f of kinds) {
    const { member, headerLength } = memberWith(data, f);
    const all = Buffer.concat([first, member]);
    const want = Buffer.concat([parts[0]!, data]);
    assert.ok(gunzipSync(all).equals(want)); // the oracle takes it
    for (let k = 0; k <= headerLength + 2; k++) {
      const out = await inflateSplit(all, first.length + k);
      assert.ok(out.equals(want), `${JSON.stringify(Object.keys(f))} split ${k} bytes into its header`);
    }
    for (const size of [1, 7]) assert.ok((await inflateAll(all, size)).equals(want));
  }
});

test('headers zlib refuses are refused: reserved flags, a wrong header CRC, a cut header', { skip }, async () => {
  const data = text(1000);
  const reserved = memberWith(data, { flags: 0x20 }).member;
  assert.throws(() => gunzipSync(reserved));
  await assert.rejects(inflateAll(reserved, 4), /unknown header flags/);
  const badCrc = memberWith(data, { hcrc: true, name: 'x' });
  badCrc.member[badCrc.headerLength - 1]! ^= 0xff;
  assert.throws(() => gunzipSync(badCrc.member));
  await assert.rejects(inflateAll(badCrc.member, 4), /header crc/);
  const cut = memberWith(data, { name: 'a-long-name' }).member.subarray(0, 15);
  await assert.rejects(inflateAll(cut, 4), /end of data inside a gzip header/);
  // short junk after a member: not a cut member, but no member at all
  await assert.rejects(inflateAll(Buffer.concat([members[0]!, Buffer.from('junk')]), 65_536), /not a gzip header/);
});

test('reusing its buffers, a chunk stays as it was until the one after next is asked for', { skip }, async () => {
  const big = text(4_000_000); // 8 output chunks of 512 KiB
  const held: { copy: Buffer; chunk: Buffer }[] = [];
  const out: Buffer[] = [];
  for await (const chunk of igzipInflate(igzipInflater()!, pieces(gzipMember(big, 1), 100_000), true)) {
    // the last two chunks given out are intact; the one before that may be overwritten now
    for (const h of held.slice(-2)) assert.ok(h.chunk.equals(h.copy), 'a chunk changed too soon');
    held.push({ copy: Buffer.from(chunk), chunk });
    out.push(Buffer.from(chunk));
  }
  assert.ok(Buffer.concat(out).equals(big), 'bytes differ');
  assert.ok(held.length >= 4, `${held.length} chunks`);
  // buffers are reused: an early chunk now holds a later one's bytes
  assert.ok(!held[0]!.chunk.equals(held[0]!.copy), 'the first chunk was not reused');
});
