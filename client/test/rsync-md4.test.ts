import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMD4 } from 'hash-wasm';
import { md4, md4Into } from '@deaddrop/client/rsync/md4';
import { prng, randomBytes } from './rsync-helpers.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('md4 matches the RFC 1320 test suite', () => {
  const vectors: [string, string][] = [
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', '043f8582f241db351ce627e153e7f0e4'],
    [
      '12345678901234567890123456789012345678901234567890123456789012345678901234567890',
      'e33b4ddc9c38f2199c3e7b164fcc0536',
    ],
  ];
  for (const [input, want] of vectors) assert.equal(hex(md4(Buffer.from(input))), want, JSON.stringify(input));
});

test('md4 equals hash-wasm for every length around the padding edges, aligned or not, and truncates', async () => {
  const ref = await createMD4();
  const rand = prng(4);
  const data = randomBytes(rand, 5000);
  const lengths = [...Array(300).keys(), 511, 512, 1023, 1024, 2047, 2048, 2049, 4096, 4999];
  for (const shift of [0, 1, 2, 3]) {
    // the same bytes at each alignment inside a larger buffer
    const host = new Uint8Array(5008);
    host.set(data.subarray(0, 5000 - shift), shift);
    for (const n of lengths.filter((l) => l + shift <= 5000)) {
      ref.init();
      ref.update(data.subarray(0, n));
      const want = ref.digest();
      assert.equal(hex(md4(host.subarray(shift, shift + n))), want, `length ${n} offset ${shift}`);
      const out = new Uint8Array(20).fill(0xee);
      md4Into(host, shift, shift + n, out, 3, 8);
      assert.equal(hex(out.subarray(3, 11)), want.slice(0, 16));
      assert.ok(out[2] === 0xee && out[11] === 0xee, 'writes only its bytes');
    }
  }
});

test('md4 over many blocks of one buffer (reused word view) and then of another buffer', async () => {
  const ref = await createMD4();
  const rand = prng(5);
  for (const buf of [randomBytes(rand, 64 * 1024), randomBytes(rand, 8192 + 4)]) {
    for (let at = 0; at + 2048 <= buf.length; at += 2048) {
      ref.init();
      ref.update(buf.subarray(at, at + 2048));
      assert.equal(hex(md4(buf.subarray(at, at + 2048))), ref.digest());
    }
  }
});
