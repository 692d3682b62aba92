/**
 * The restore's decryption into reused buffers (client/native/cipher.c through
 * native/cipher.ts) gives node:crypto's plaintext, whatever the pieces: empty, shorter than a
 * block, larger than a buffer of the ring; a wrong key's padding is refused as node:crypto
 * refuses it; a chunk stays intact until the reader asks for the third after it. Without the
 * addon built these tests skip; in CI that is a failure.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ringDecipher } from '@deaddrop/client/native/cipher';
import { POOL_ADDONS_MISSING, cutInPieces, missingUnless, seededBytes } from '@deaddrop/test';

const skip = missingUnless(ringDecipher() !== null, POOL_ADDONS_MISSING);

const plain = seededBytes('cipher', 1024 * 1024 + 5);
const cuts = [0, 1, 15, 16, 17, 256 * 1024, 300_000, 7];

for (const [name, keyLength, ivLength] of [
  ['aes-256-cbc', 32, 16],
  ['aes-128-cbc', 16, 16],
  ['des-ede3-cbc', 24, 8],
] as const)
  test(`${name}, in pieces of 0 bytes to 300 KB: node:crypto's plaintext`, { skip }, () => {
    const key = randomBytes(keyLength);
    const iv = randomBytes(ivLength);
    const c = createCipheriv(name, key, iv);
    const sealed = Buffer.concat([c.update(plain), c.final()]);
    const d = ringDecipher()!(name, key, iv);
    const out: Buffer[] = cutInPieces(sealed, cuts).map((p) => Buffer.from(d.update(p)));
    out.push(d.final());
    assert.ok(Buffer.concat(out).equals(plain), 'plaintext differs');
  });

test('a wrong key: "bad decrypt" at the end, as node:crypto says (when the padding shows it)', { skip }, () => {
  const key = randomBytes(32);
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', key, iv);
  const sealed = Buffer.concat([c.update(plain.subarray(0, 1000)), c.final()]);
  let refused = 0;
  for (let i = 0; i < 8; i++) {
    const wrong = randomBytes(32);
    const ours = ringDecipher()!('aes-256-cbc', wrong, iv);
    ours.update(sealed);
    const theirs = createDecipheriv('aes-256-cbc', wrong, iv);
    theirs.update(sealed);
    const nodeRefused = (() => {
      try {
        theirs.final();
        return false;
      } catch {
        return true;
      }
    })();
    if (nodeRefused) {
      assert.throws(() => ours.final(), /bad decrypt/);
      refused++;
    } else assert.doesNotThrow(() => ours.final());
  }
  assert.ok(refused > 0, 'no wrong key was refused in 8 tries');
});

test('a chunk stays intact until the third after it; a piece short of a block uses no buffer', { skip }, () => {
  const key = randomBytes(32);
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', key, iv);
  const sealed = Buffer.concat([c.update(plain), c.final()]);
  const d = ringDecipher()!('aes-256-cbc', key, iv);
  const held: { chunk: Buffer; copy: Buffer }[] = [];
  for (let at = 0; at < sealed.length;) {
    const n = held.length % 2 ? 5 : 100_000; // every other piece is shorter than a block
    const chunk = d.update(sealed.subarray(at, at + n));
    at += n;
    for (const h of held.filter((x) => x.chunk.length > 0).slice(-2))
      assert.ok(h.chunk.equals(h.copy), 'a chunk changed too soon');
    held.push({ chunk, copy: Buffer.from(chunk) });
  }
  const first = held.find((h) => h.chunk.length > 0)!;
  assert.ok(!first.chunk.equals(first.copy), 'buffers are not reused');
});

test('an unknown cipher or a key of the wrong length is refused', { skip }, () => {
  assert.throws(() => ringDecipher()!('rot13', randomBytes(16), randomBytes(16)), /unknown cipher/);
  assert.throws(() => ringDecipher()!('aes-256-cbc', randomBytes(16), randomBytes(16)), /wrong key or IV length/);
});
