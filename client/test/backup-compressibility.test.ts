/**
 * The data class of a piece (docs/FORMAT.md "Volume compression"): the Shannon entropy of 4 KiB
 * from its middle, against 7.6 bits per byte.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { looksCompressible } from '@deaddrop/client/backup/compressibility';
import { seededBytes, seededText } from '@deaddrop/test';

/** Bits per byte of data[from, to), counted the plain way. */
function entropy(data: Uint8Array, from: number, to: number): number {
  const counts = new Map<number, number>();
  for (let i = from; i < to; i++) counts.set(data[i]!, (counts.get(data[i]!) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) h -= (c / (to - from)) * Math.log2(c / (to - from));
  return h;
}

/** The sample looksCompressible takes: 4 KiB from the middle, or all of a shorter piece. */
function sampleOf(start: number, end: number): [number, number] {
  const from = start + Math.max(0, Math.floor((end - start - 4096) / 2));
  return [from, Math.min(end, from + 4096)];
}

test('text, zeros and repeats compress; random and deflated bytes do not', () => {
  assert.equal(looksCompressible(seededText('log', 65536)), true);
  assert.equal(looksCompressible(Buffer.alloc(65536)), true);
  assert.equal(looksCompressible(Buffer.from('abcd'.repeat(20000))), true);
  assert.equal(looksCompressible(Buffer.from(seededBytes('b64', 60000).toString('base64'))), true);
  assert.equal(looksCompressible(seededBytes('random', 65536)), false);
  assert.equal(looksCompressible(gzipSync(seededText('text', 1 << 20), { level: 9 })), false);
  assert.equal(looksCompressible(seededBytes('tiny', 1023)), true, 'under 1 KiB: rides along');
});

test('only the middle 4 KiB of the range asked for counts', () => {
  const mixed = Buffer.concat([Buffer.alloc(30000), seededBytes('mid', 5000), Buffer.alloc(30000)]);
  assert.equal(looksCompressible(mixed), false, 'random middle');
  assert.equal(looksCompressible(mixed, 0, 20000), true, 'zeros at the start');
  assert.equal(looksCompressible(mixed, 28000, 37000), false);
});

test('the class is the plain entropy count against 7.6, for samples of every length and offset', () => {
  // pieces between the classes: random bytes with a share of them zeroed
  for (let k = 0; k < 400; k++) {
    const length = 1024 + ((k * 7919) % 9000);
    const data = seededBytes(`mixed-${k}`, length + 13);
    for (let i = 0; i < data.length; i++) if ((data[i]! * 31 + i) % 100 < k % 40) data[i] = 0;
    const [start, end] = [k % 13, (k % 13) + length];
    const [from, to] = sampleOf(start, end);
    assert.equal(looksCompressible(data, start, end), entropy(data, from, to) < 7.6, `piece ${k}`);
  }
});
