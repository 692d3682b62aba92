import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RK_MULT, rabinKarpPower, rollsumOf } from '@deaddrop/client/rsync/weaksum';
import { prng, randomBytes } from './rsync-helpers.js';

/** librsync's rollsum (rollsum.h), one byte at a time: the definition the fast paths must match. */
function rollsumByBytes(buf: Uint8Array, start: number, end: number): number {
  let s1 = 0;
  let s2 = 0;
  for (let i = start; i < end; i++) {
    s1 = (s1 + buf[i]! + 31) & 0xffff;
    s2 = (s2 + s1) & 0xffff;
  }
  return ((s2 << 16) | s1) >>> 0;
}

test('rollsum equals the byte-at-a-time definition at every alignment, length and byte value', () => {
  const rand = prng(7);
  const random = randomBytes(rand, 70_000);
  const ones = new Uint8Array(70_000).fill(0xff); // largest lane sums: no carry between lanes
  const lengths = [0, 1, 3, 4, 63, 64, 65, 127, 255, 256, 1000, 2048, 4099, 12_544, 65_536];
  for (const data of [random, ones]) {
    for (const len of lengths) {
      for (let start = 0; start < 8; start++) {
        const want = rollsumByBytes(data, start, start + len);
        assert.equal(rollsumOf(data, start, start + len), want, `len ${len} at ${start}`);
      }
    }
  }
  // a view that starts at an odd offset of its ArrayBuffer, then an aligned one of the same buffer
  const odd = random.subarray(3, 20_003);
  assert.equal(rollsumOf(odd, 1, 12_001), rollsumByBytes(odd, 1, 12_001));
  const aligned = random.subarray(8, 20_008);
  assert.equal(rollsumOf(aligned, 0, 12_000), rollsumByBytes(aligned, 0, 12_000));
});

test('rabinKarpPower(n) is RK_MULT multiplied in n times, mod 2^32', () => {
  let want = 1;
  for (let n = 0; n <= 70_000; n++) {
    if (n < 300 || n % 997 === 0 || [2048, 12_544, 65_535, 65_536].includes(n))
      assert.equal(rabinKarpPower(n), want | 0, `n = ${n}`);
    want = Math.imul(want, RK_MULT);
  }
});
