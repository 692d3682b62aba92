/**
 * Gzip members from ISA-L's igzip (client/native/igzip.c): the same plain bytes back through
 * zlib's gunzip, which checks the CRC-32 and the size; zlib's own header; stored blocks for
 * random data; zlib for the other levels, and for all with DEADDROP_DEFLATE=zlib. Without the
 * addon built (no libisal-dev) these tests say so and skip; in CI that is a failure.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { gunzipSync, gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { gzipMember } from '@deaddrop/client/backup/gzip-member';
import { igzip } from '@deaddrop/client/native/igzip';
import { ADDON_MISSING, missingUnless, seededBytes } from '@deaddrop/test';

const addonMissing = () => missingUnless(igzip() !== null, ADDON_MISSING);

/** Log-like text: repeated structure with varying fields, as the bench's logs. */
function logLines(bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `Nov 24 15:${String(i % 60).padStart(2, '0')}:07 host sshd[${1000 + ((i * 7919) % 9000)}]: session ${i} opened for user u${i % 13}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

test('igzip members read back byte for byte through zlib, with zlib header bytes', { skip: addonMissing() }, () => {
  const native = igzip()!;
  for (const data of [logLines(1 << 20), logLines(64 * 1024 + 3), Buffer.from('x'), Buffer.alloc(0)]) {
    for (const level of [1, 2, 3]) {
      const member = native.gzipMember(data, level);
      assert.ok(member, `level ${level}, ${data.length} bytes: compressed`);
      assert.equal(
        member.subarray(0, 10).toString('hex'),
        gzipSync(data, { level: 2 }).subarray(0, 10).toString('hex'),
      );
      assert.deepEqual(gunzipSync(member), data, `level ${level}, ${data.length} bytes`);
    }
  }
  const text = logLines(1 << 20);
  assert.ok(native.gzipMember(text, 2)!.length < text.length / 4, 'log lines deflate well');
  // at the level asked for, a member is about the size of zlib's (within 5%)
  for (const level of [1, 2]) {
    const ours = gzipMember(text, level).length;
    const zlibs = gzipSync(text, { level, memLevel: 9 }).length;
    assert.ok(ours <= zlibs * 1.05, `level ${level}: ${ours} bytes against zlib's ${zlibs}`);
  }
  // members end to end are one stream to gunzip (and to duplicity), whoever made each one
  const parts = [logLines(5000), Buffer.from('tail')];
  const joined = Buffer.concat([native.gzipMember(parts[0]!, 2)!, gzipSync(parts[1]!)]);
  assert.deepEqual(gunzipSync(joined), Buffer.concat(parts));
  // and to Python's gzip module, which duplicity reads volumes with
  const py = spawnSync(
    'python3',
    ['-c', 'import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))'],
    {
      input: joined,
      maxBuffer: 1 << 24,
    },
  );
  assert.equal(py.status, 0, String(py.stderr));
  assert.deepEqual(py.stdout, Buffer.concat(parts));
});

/**
 * Each of 3 worker threads deflates one 64 KiB + 512 log piece 300 times, from stack depths
 * 0-39 and between zlib, hashing and stat calls, as a backup's workers do between their members.
 * Whatever the stack held before, the member must be the same bytes: ISA-L leaves a field
 * uninitialised that made 1 in 3 full backups store such pieces 3x larger.
 */
test('the same bytes make the same member in every thread, whatever ran before', { skip: addonMissing() }, async () => {
  const addon = fileURLToPath(new URL('../native/build/igzip.node', import.meta.url));
  const piece = logLines(64 * 1024 + 512);
  const worker = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { gzipSync } = require('node:zlib');
    const { createHash } = require('node:crypto');
    const { statSync } = require('node:fs');
    const native = require(workerData.addon);
    const data = Buffer.from(workerData.piece);
    const deep = (k, f) => (k === 0 ? f() : deep(k - 1, f));
    const members = new Set();
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 0) gzipSync(data.subarray(0, 1000 + i), { level: 1 + (i % 9) });
      if (i % 5 === 0) createHash(i % 2 ? 'sha256' : 'md5').update(data).digest();
      if (i % 7 === 0) statSync('/');
      members.add(deep(i % 40, () => native.gzipMember(data, 3).toString('hex')));
    }
    parentPort.postMessage([...members]);`;
  const runs = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<string[]>((resolve, reject) => {
          const w = new Worker(worker, { eval: true, workerData: { addon, piece } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  const expected = igzip()!.gzipMember(piece, 3)!;
  assert.deepEqual(gunzipSync(expected), piece);
  for (const [i, members] of runs.entries()) {
    const sizes = members.map((m) => m.length / 2);
    assert.deepEqual(sizes, [expected.length], `thread ${i}: member sizes ${sizes.join(', ')}`);
    assert.equal(members[0], expected.toString('hex'), `thread ${i}: the main thread's bytes`);
  }
});

test('random data: igzip falls back to stored blocks, no bigger than zlib level 0', { skip: addonMissing() }, () => {
  for (const size of [1 << 20, 100_000, 5000]) {
    const random = seededBytes(`igzip-random-${size}`, size);
    const member = igzip()!.gzipMember(random, 2)!;
    assert.deepEqual(gunzipSync(member), random);
    assert.ok(member.length <= gzipSync(random, { level: 0 }).length, `${size}: ${member.length} bytes`);
  }
  const random = seededBytes('igzip-random', 4096);
  assert.deepEqual(gunzipSync(gzipMember(random, 0)), random, 'level 0 (incompressible pieces): zlib stored blocks');
  assert.deepEqual(gunzipSync(gzipMember(random, 8)), random, 'level 8 (incrementals): zlib');
});

test('stored members: zlib level 0 byte for byte, at every block boundary', { skip: addonMissing() }, () => {
  const storedMember = igzip()!.storedMember;
  assert.ok(storedMember, 'the addon has storedMember');
  for (const size of [0, 1, 1000, 65534, 65535, 65536, 2 * 65535, 2 * 65535 + 1, 1 << 20]) {
    const random = seededBytes(`stored-${size}`, size);
    const zlibs = gzipSync(random, { level: 0, memLevel: 9, chunkSize: size + 4096 });
    assert.deepEqual(storedMember(random), zlibs, `${size} bytes`);
    assert.deepEqual(gzipMember(random, 0), zlibs, `${size} bytes through gzipMember`);
  }
  // a view into a larger buffer: only its own bytes, with their CRC-32
  const whole = seededBytes('stored-view', 70_000);
  const view = whole.subarray(1234, 1234 + 66_000);
  assert.deepEqual(gunzipSync(storedMember(view)), view);
  assert.throws(() => storedMember('a' as unknown as Uint8Array), /data must be a Uint8Array/);
});

test('bad arguments are refused by name', { skip: addonMissing() }, () => {
  const native = igzip()!;
  assert.throws(() => native.gzipMember(Buffer.from('a'), 0), /level must be 1, 2 or 3/);
  assert.throws(() => native.gzipMember(Buffer.from('a'), 4), /level must be 1, 2 or 3/);
  assert.throws(() => native.gzipMember('a' as unknown as Uint8Array, 2), /data must be a Uint8Array/);
});

test('DEADDROP_DEFLATE=zlib leaves the addon unloaded; members are still valid', () => {
  const code = `
    import { gzipMember } from '@deaddrop/client/backup/gzip-member';
    import { igzip } from '@deaddrop/client/native/igzip';
    import { gunzipSync } from 'node:zlib';
    const data = Buffer.from('abc'.repeat(50000));
    if (!gunzipSync(gzipMember(data, 2)).equals(data)) process.exit(3);
    console.log(igzip() === null ? 'zlib' : 'igzip');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, DEADDROP_DEFLATE: 'zlib' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'zlib');
});
