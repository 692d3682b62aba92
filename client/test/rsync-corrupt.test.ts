import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { test } from 'node:test';
import { magicFor, readSignature } from '@deaddrop/client/rsync/index';
import { readSharedSignature } from '@deaddrop/client/rsync/read-signature';
import { MAX_INDEXED_BLOCKS, SumIndex } from '@deaddrop/client/rsync/sum-index';
import { runDeaddrop, tempDir } from '@deaddrop/test';
import { ourDelta, ourPatch, ourSignature, prng, randomBytes } from './rsync-helpers.js';

const params = { magic: magicFor('md4', 'rollsum'), blockLen: 64, strongLen: 8 };

test('readSignature rejects bad magic, out-of-range strong length, truncated header and record', async () => {
  const sig = await ourSignature(randomBytes(prng(1), 1000), params);
  await assert.rejects(readSignature(Buffer.concat([Buffer.from('xxxx'), sig.subarray(4)])), /bad magic 0x78787878/);
  const big = Buffer.from(sig);
  big.writeUInt32BE(17, 8);
  await assert.rejects(readSignature(big), /strong sum length 17 out of range 1\.\.16/);
  const zeroBlock = Buffer.from(sig);
  zeroBlock.writeUInt32BE(0, 4);
  await assert.rejects(readSignature(zeroBlock), /block length 0 out of range/);
  await assert.rejects(readSignature(sig.subarray(0, 7)), /truncated header/);
  await assert.rejects(readSignature(sig.subarray(0, sig.length - 3)), /truncated block record 15/);
  // a delta is not a signature
  await assert.rejects(readSignature(Buffer.from([0x72, 0x73, 0x02, 0x36, 0, 0, 0, 1, 0, 0, 0, 8])), /bad magic/);
});

test('a signature reads the same whole, in chunks of any size, and from a file on shared memory', async () => {
  // 3000 records of 12 bytes: chunks split records at every offset, and the file spans 64 KiB reads
  const sig = await ourSignature(randomBytes(prng(3), 3000 * 64), params);
  const whole = await readSignature(sig);
  assert.equal(whole.count, 3000);
  for (const size of [1, 5, 12, 13, 4096, 65536]) {
    const chunks = Array.from({ length: Math.ceil(sig.length / size) }, (_, i) =>
      sig.subarray(i * size, (i + 1) * size),
    );
    const read = await readSignature(Readable.from(chunks));
    assert.deepEqual(
      [read.count, read.weak, read.strong],
      [whole.count, whole.weak, whole.strong],
      `chunks of ${size}`,
    );
  }
  const file = join(tempDir(), 'sig');
  writeFileSync(file, sig);
  const shared = readSharedSignature(file);
  assert.ok(shared.weak.buffer instanceof SharedArrayBuffer);
  assert.deepEqual([...shared.weak], [...whole.weak]);
  assert.deepEqual([...shared.strong], [...whole.strong]);
  writeFileSync(file, sig.subarray(0, sig.length - 5));
  assert.throws(() => readSharedSignature(file), /truncated block record 2999 \(7 of 12 bytes\)/);
});

test('patch refuses truncated, corrupt and out-of-basis deltas instead of writing short output', async () => {
  const dir = tempDir();
  const r = prng(2);
  const oldData = randomBytes(r, 5000);
  const newData = Buffer.concat([oldData.subarray(0, 2000), randomBytes(r, 300), oldData.subarray(2000)]);
  writeFileSync(join(dir, 'old'), oldData);
  const delta = await ourDelta(await ourSignature(oldData, params), newData);
  assert.ok((await ourPatch(join(dir, 'old'), delta)).equals(newData));
  for (let cut = 0; cut < delta.length; cut += 7)
    await assert.rejects(ourPatch(join(dir, 'old'), delta.subarray(0, cut)), /truncated|no END/, `cut at ${cut}`);
  await assert.rejects(ourPatch(join(dir, 'old'), Buffer.concat([delta, Buffer.from([1])])), /data after END/);
  const badMagic = Buffer.from(delta);
  badMagic[3] = 0x37;
  await assert.rejects(ourPatch(join(dir, 'old'), badMagic), /bad magic/);
  const reserved = Buffer.from([0x72, 0x73, 0x02, 0x36, 0x60, 0]);
  await assert.rejects(ourPatch(join(dir, 'old'), reserved), /reserved command byte 0x60/);
  // COPY pos 4990 len 100 (1-byte... 2-byte pos, 1-byte len: opcode 0x45 + 4*1 + 0)
  const beyond = Buffer.from([0x72, 0x73, 0x02, 0x36, 0x49, 0x13, 0x7e, 100, 0]);
  await assert.rejects(ourPatch(join(dir, 'old'), beyond), /past the end of the basis/);
  const zeroLiteral = Buffer.from([0x72, 0x73, 0x02, 0x36, 0x41, 0, 0]);
  await assert.rejects(ourPatch(join(dir, 'old'), zeroLiteral), /LITERAL of length 0/);
});

test('deaddrop rdiff: corrupt input exits 1 with one line and leaves no output file', async () => {
  const dir = tempDir();
  const oldData = randomBytes(prng(3), 3000);
  writeFileSync(join(dir, 'old'), oldData);
  const sig = await ourSignature(oldData, params);
  writeFileSync(join(dir, 'sig.cut'), sig.subarray(0, sig.length - 1));
  let res = await runDeaddrop(['rdiff', 'delta', join(dir, 'sig.cut'), join(dir, 'old'), join(dir, 'delta')]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /sig\.cut: truncated block record/);
  assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);

  const delta = await ourDelta(sig, oldData);
  writeFileSync(join(dir, 'delta.cut'), delta.subarray(0, delta.length - 1));
  res = await runDeaddrop(['rdiff', 'patch', join(dir, 'old'), join(dir, 'delta.cut'), join(dir, 'new')]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /delta\.cut: truncated/);
  assert.equal(existsSync(join(dir, 'new')), false);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith('new')),
    [],
    'temp file removed',
  );

  res = await runDeaddrop(['rdiff', 'signature', join(dir, 'old'), join(dir, 's'), '-b', '0', '-S', '40', '-H', 'md4']);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /strong sum length 40 out of range/);
  res = await runDeaddrop(['rdiff', 'patch']);
  assert.equal(res.code, 2);
});

test('deaddrop rdiff round trip through stdin/stdout and --json', async () => {
  const dir = tempDir();
  const r = prng(4);
  const oldData = randomBytes(r, 40000);
  const newData = Buffer.concat([randomBytes(r, 10), oldData.subarray(0, 30000)]);
  writeFileSync(join(dir, 'old'), oldData);
  writeFileSync(join(dir, 'new'), newData);
  let res = await runDeaddrop(['rdiff', 'signature', join(dir, 'old'), join(dir, 'sig'), '--json']);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout).action, 'signature');
  res = await runDeaddrop(['rdiff', 'delta', join(dir, 'sig'), '-', join(dir, 'delta')], { input: newData });
  assert.equal(res.code, 0, res.stderr);
  res = await runDeaddrop(['rdiff', 'patch', join(dir, 'old'), join(dir, 'delta'), join(dir, 'out'), '--json']);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout).bytes, newData.length);
  const { readFileSync } = await import('node:fs');
  assert.ok(readFileSync(join(dir, 'out')).equals(newData));
});

test('an existing output file is refused unless --force: swapped arguments leave the input as it was', async () => {
  const { readFileSync } = await import('node:fs');
  const dir = tempDir();
  const oldData = randomBytes(prng(5), 40000);
  writeFileSync(join(dir, 'old'), oldData);
  let res = await runDeaddrop(['rdiff', '-H', 'md4', 'signature', join(dir, 'old'), join(dir, 'sig')]);
  assert.equal(res.code, 0, res.stderr);
  const sig = readFileSync(join(dir, 'sig'));
  // BASIS and SIG swapped: the "output" is the file to back up
  res = await runDeaddrop(['rdiff', 'signature', join(dir, 'sig'), join(dir, 'old')]);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /old: exists; refusing to overwrite it \(--force/);
  assert.ok(readFileSync(join(dir, 'old')).equals(oldData));
  writeFileSync(join(dir, 'sig'), 'not a signature');
  res = await runDeaddrop(['rdiff', '-H', 'md4', 'signature', join(dir, 'old'), join(dir, 'sig')]);
  assert.equal(res.code, 2);
  assert.equal(readFileSync(join(dir, 'sig'), 'utf8'), 'not a signature');
  res = await runDeaddrop(['rdiff', '--force', '-H', 'md4', 'signature', join(dir, 'old'), join(dir, 'sig')]);
  assert.equal(res.code, 0, res.stderr);
  assert.ok(readFileSync(join(dir, 'sig')).equals(sig));
  assert.deepEqual(readdirSync(dir).sort(), ['old', 'sig'], 'no temp file left');
});

test('patch: a COPY of the whole basis waits for the reader (bounded buffering)', async () => {
  const { createPatchStream } = await import('@deaddrop/client/rsync/index');
  const dir = tempDir();
  const size = 16 << 20;
  writeFileSync(join(dir, 'old'), Buffer.alloc(size, 9));
  // COPY pos 0 (1 byte) len 16 MiB (4 bytes): opcode 0x45 + 4*0 + 2, then END
  const delta = Buffer.from([0x72, 0x73, 0x02, 0x36, 0x47, 0, 0x01, 0, 0, 0, 0]);
  const patch = createPatchStream(join(dir, 'old'));
  patch.end(delta);
  let total = 0;
  let maxBuffered = 0;
  for await (const chunk of patch) {
    maxBuffered = Math.max(maxBuffered, (chunk as Buffer).length + patch.readableLength); // read() hands over all buffered bytes
    total += (chunk as Buffer).length;
    await new Promise((r) => setTimeout(r, 3)); // a slow reader
  }
  assert.equal(total, size);
  assert.ok(maxBuffered <= 2 << 20, `buffered ${maxBuffered} bytes`);
});

test('a signature of more blocks than the index holds is refused, not indexed forever', () => {
  // 2^29 + 1 blocks: the table size doubled past 2^30 wrapped to negative and never stopped
  const sig = {
    ...params,
    count: MAX_INDEXED_BLOCKS + 1,
    weak: new Uint32Array(0),
    strong: new Uint8Array(0),
  };
  assert.throws(() => new SumIndex(sig), /signature of 536870913 blocks: more than 536870912/);
});

test('rdiff patch with a basis that is missing or a directory fails naming it, even with no COPY', async () => {
  const dir = tempDir();
  // a delta of literals only: the basis is never read
  const delta = await ourDelta(await ourSignature(Buffer.alloc(0), params), Buffer.from('abc'));
  writeFileSync(join(dir, 'delta'), delta);
  for (const [basis, message] of [
    [join(dir, 'missing'), /basis .*missing: ENOENT/],
    [dir, /basis .*: is a directory/],
  ] as const) {
    const r = await runDeaddrop(['rdiff', 'patch', basis, join(dir, 'delta'), join(dir, 'out')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(existsSync(join(dir, 'out')), false, 'no output file');
  }
});
