/**
 * The restore's write-behind (restore/write-behind.ts): pieces of several files, of any size and
 * at any position, land where they belong once idle() returns; a caller's buffer may change as
 * soon as write() returns; a failed write is thrown, not lost. With the stage addon built, what
 * idle() has settled is no longer in the page cache (fincore), and the addon refuses bad
 * arguments by name.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stageAddon } from '@deaddrop/client/native/stage';
import { WriteBehind } from '@deaddrop/client/restore/write-behind';
import {
  cachedBytes,
  missingTools,
  missingUnless,
  pageCacheSkip,
  POOL_ADDONS_MISSING,
  seededBytes,
} from '@deaddrop/test';

const noAddon = () => missingUnless(stageAddon()?.writeOut !== undefined, POOL_ADDONS_MISSING);

function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'write-behind-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('pieces of two files, across the 1 MiB buffers and with gaps, are written where they belong', async (t) => {
  const dir = scratch(t);
  const a = seededBytes('wb-a', 3 * 1024 * 1024 + 12345);
  const b = seededBytes('wb-b', 700_000);
  const fa = openSync(join(dir, 'a'), 'w');
  const fb = openSync(join(dir, 'b'), 'w');
  const w = new WriteBehind();
  const sizes = [1, 65536, 511, 1024 * 1024, 3, 2 * 1024 * 1024];
  let at = 0;
  for (let i = 0; at < a.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, a.length - at);
    await w.write(fa, a.subarray(at, at + n), at);
    at += n;
    if (i === 2) await w.write(fb, b.subarray(0, 400_000), 0); // another file in between
  }
  await w.write(fb, b.subarray(500_000), 500_000); // not contiguous: a hole of zeros until set
  await w.write(fb, b.subarray(400_000, 500_000), 400_000); // going back
  await w.idle();
  closeSync(fa);
  closeSync(fb);
  assert.ok(readFileSync(join(dir, 'a')).equals(a));
  assert.ok(readFileSync(join(dir, 'b')).equals(b));
});

test("the caller's buffer is copied: changing it after write() returns changes nothing written", async (t) => {
  const dir = scratch(t);
  const fd = openSync(join(dir, 'f'), 'w');
  const w = new WriteBehind();
  const buf = Buffer.alloc(200_000, 0x61);
  await w.write(fd, buf, 0);
  buf.fill(0x62);
  await w.write(fd, buf, 200_000);
  buf.fill(0x63);
  await w.idle();
  closeSync(fd);
  assert.ok(
    readFileSync(join(dir, 'f')).equals(Buffer.concat([Buffer.alloc(200_000, 0x61), Buffer.alloc(200_000, 0x62)])),
  );
});

test('a failed write is thrown by idle(), and by the writes after it', async (t) => {
  const dir = scratch(t);
  closeSync(openSync(join(dir, 'f'), 'w'));
  const fd = openSync(join(dir, 'f'), 'r'); // read-only: every write fails with EBADF
  t.after(() => closeSync(fd));
  const w = new WriteBehind();
  await w.write(fd, Buffer.alloc(10), 0);
  await assert.rejects(w.idle(), { code: 'EBADF' });
  await assert.rejects(
    (async () => {
      for (let i = 0; i < 4; i++) await w.write(fd, Buffer.alloc(1024 * 1024), i * 1024 * 1024);
    })(),
    { code: 'EBADF' },
  );
});

test('with the stage addon, what idle() returns from is on its way to disk and out of the page cache', async (t) => {
  const skip = noAddon() || missingTools('fincore') || pageCacheSkip(tmpdir());
  if (skip) return t.skip(skip);
  const dir = scratch(t);
  const a = seededBytes('wb-cache-a', 6 * 1024 * 1024 + 4321);
  const b = seededBytes('wb-cache-b', 3 * 1024 * 1024); // ends on a piece's end: idle() settles it alone
  for (const [name, data] of [
    ['a', a],
    ['b', b],
  ] as const) {
    const fd = openSync(join(dir, name), 'w');
    const w = new WriteBehind();
    for (let at = 0; at < data.length; at += 65536) await w.write(fd, data.subarray(at, at + 65536), at);
    await w.idle();
    closeSync(fd);
    assert.equal(cachedBytes(join(dir, name)), 0, `${name}: bytes left in the page cache`);
    assert.ok(readFileSync(join(dir, name)).equals(data), `${name}: its bytes`);
  }
});

test('the stage addon refuses a bad piece by name', { skip: noAddon() }, () => {
  const writeOut = stageAddon()!.writeOut!;
  const done = () => assert.fail('queued');
  const data = new Uint8Array(10);
  const bad: [string, unknown[]][] = [
    ['length over the data', [3, data, 11, 0, -1, 0, done]],
    ['negative position', [3, data, 10, -1, -1, 0, done]],
    ['settled past the piece', [3, data, 10, 0, 0, 11, done]],
    ['settled backwards', [3, data, 10, 100, 50, 40, done]],
    ['no callback', [3, data, 10, 0, -1, 0]],
  ];
  for (const [what, args] of bad)
    assert.throws(() => (writeOut as (...a: unknown[]) => void)(...args), /stage: writeOut/, what);
});
