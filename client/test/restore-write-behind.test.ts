/**
 * The restore's write-behind (restore/write-behind.ts): pieces of several files, of any size and
 * at any position, land where they belong once idle() returns; a caller's buffer may change as
 * soon as write() returns; a failed write is thrown, not lost.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WriteBehind } from '@deaddrop/client/restore/write-behind';
import { seededBytes } from '@deaddrop/test';

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
