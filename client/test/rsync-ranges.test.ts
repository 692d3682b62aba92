/**
 * Delta ranges (rsync/delta.ts deltaOfRange), as backup workers make them for large changed
 * files: the ranges' commands concatenated are one delta that real `rdiff patch` applies
 * byte-exact, whatever the cut points, edits across cuts, shifts and appends; and for an
 * in-place edit the ranged delta is no larger than the whole-file delta plus a few bytes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deltaOfRange, MAGIC, parseSignature, SumIndex, type SignatureParams } from '@deaddrop/client/rsync/index';
import { md4Blocks } from '@deaddrop/client/rsync/md4-lanes';
import { missingTools, tempDir } from '@deaddrop/test';
import { ourDelta, ourSignature, prng, randomBytes, rdiff } from './rsync-helpers.js';

const skip = missingTools('rdiff');
const params: SignatureParams = { magic: MAGIC.MD4_ROLLSUM, blockLen: 2048, strongLen: 8 }; // as duplicity's

function rangedDelta(sigBytes: Buffer, data: Buffer, cuts: number[]): Buffer {
  const sig = parseSignature(sigBytes);
  const index = new SumIndex(sig);
  const bounds = [0, ...cuts, data.length];
  const parts: Uint8Array[] = [];
  for (let i = 0; i + 1 < bounds.length; i++)
    parts.push(
      deltaOfRange(sig, index, md4Blocks, data.subarray(bounds[i], bounds[i + 1]), {
        first: i === 0,
        last: i + 2 === bounds.length,
        from: bounds[i],
      }),
    );
  return Buffer.concat(parts);
}

test('range deltas concatenated: rdiff patch rebuilds the new file byte-exact', { skip }, async () => {
  const dir = tempDir('deaddrop-rsync-ranges-');
  const rand = prng(7);
  const old = randomBytes(rand, 300_000);
  const sig = await ourSignature(old, params);
  const B = params.blockLen;
  const edited = Buffer.from(old);
  randomBytes(rand, 5000).copy(edited, 40 * B - 2500); // straddles the cut at 40 blocks
  const cases: [string, Buffer, number[]][] = [
    ['unchanged, cuts on blocks', old, [20 * B, 40 * B, 100 * B]],
    ['edit across a cut', edited, [40 * B, 80 * B]],
    ['cuts off block boundaries', edited, [12_345, 99_999, 250_001]],
    ['insertion shifts the rest', Buffer.concat([old.subarray(0, 70_000), randomBytes(rand, 777), old.subarray(70_000)]), [32 * B, 64 * B]], // prettier-ignore
    ['append past the old end', Buffer.concat([old, randomBytes(rand, 9000)]), [146 * B]],
    ['truncated', old.subarray(0, 123_457), [30 * B]],
    ['tiny ranges', edited.subarray(0, 20_000), [1, 2, 3, 2048, 2049, 4096]],
  ];
  for (const [what, data, cuts] of cases) {
    const delta = rangedDelta(sig, data, cuts);
    const patched = rdiff(dir, ['patch', '@old', '@delta', '@new'], { old, delta }, 'new');
    assert.ok(patched.equals(data), `${what}: rdiff patch of the ranged delta differs from the new file`);
  }
});

test('an in-place edit costs no more with block-aligned ranges than in one piece', { skip }, async () => {
  const rand = prng(11);
  const old = randomBytes(rand, 64 * params.blockLen);
  const data = Buffer.from(old);
  randomBytes(rand, 3000).copy(data, 31 * params.blockLen); // crosses the cut at 32 blocks
  const sig = await ourSignature(old, params);
  const whole = await ourDelta(sig, data);
  const ranged = rangedDelta(sig, data, [16 * params.blockLen, 32 * params.blockLen, 48 * params.blockLen]);
  // each extra cut can split one COPY into two (at most 17 bytes)
  assert.ok(ranged.length <= whole.length + 3 * 17, `ranged ${ranged.length} bytes, whole ${whole.length}`);
  assert.ok(ranged.length < 3000 + 2 * params.blockLen + 100, `ranged delta of ${ranged.length} bytes is not compact`);
});

test('a range signed with the stored records of blocks its delta found in place equals one signed from scratch', async () => {
  const { SignatureBuilder } = await import('@deaddrop/client/backup/signature-builder');
  const rand = prng(13);
  const B = params.blockLen;
  const old = Buffer.concat([randomBytes(rand, 60 * B), Buffer.alloc(8 * B), randomBytes(rand, 1000)]); // zero blocks repeat
  const stored = parseSignature(await ourSignature(old, params));
  const index = new SumIndex(stored);
  const edited = Buffer.from(old);
  randomBytes(rand, 3000).copy(edited, 10 * B + 100);
  const cases: [string, Buffer][] = [
    ['in-place edit', edited],
    ['append', Buffer.concat([old, randomBytes(rand, 5 * B + 17)])],
    ['insertion: later blocks match off their places', Buffer.concat([old.subarray(0, 5 * B), Buffer.from('xyz'), old.subarray(5 * B)])], // prettier-ignore
    ['old short last block, now whole', Buffer.concat([old, Buffer.alloc(B - 1000)])],
  ];
  for (const [what, data] of cases)
    for (const from of [0, 16 * B]) {
      const range = data.subarray(from, Math.min(data.length, from + 40 * B));
      const matched = new Int32Array(Math.floor(range.length / B)).fill(-1);
      deltaOfRange(stored, index, md4Blocks, range, { first: from === 0, last: false, from, matched });
      const reused = matched.filter((j) => j >= 0 && j !== stored.count - 1).length;
      if (what !== 'insertion: later blocks match off their places' || from === 0)
        assert.ok(reused > 0, `${what} @${from}: no block was reused, so this case tests nothing`);
      const viaReuse = new SignatureBuilder(params, md4Blocks, from === 0);
      viaReuse.updateReusing(range, matched, stored);
      const fresh = new SignatureBuilder(params, md4Blocks, from === 0);
      fresh.update(range);
      assert.ok(viaReuse.finish().equals(fresh.finish()), `${what} @${from}: the signatures differ`);
    }
});

test('unchanged data is one COPY whatever number of blocks a range ends with', async () => {
  const rand = prng(17);
  const B = params.blockLen;
  // random blocks: a block's rollsum left over from another block never matches by luck
  const whole = randomBytes(rand, 14 * B);
  for (const tail of [0, 700])
    for (let blocks = 1; blocks <= 10; blocks++) {
      const old = whole.subarray(0, 3 * B + blocks * B + tail);
      const stored = parseSignature(await ourSignature(old, params));
      const index = new SumIndex(stored);
      for (const [from, last] of [
        [0, true],
        [3 * B, true],
        [3 * B, false],
      ] as const) {
        const to = last ? old.length : 3 * B + blocks * B;
        const delta = deltaOfRange(stored, index, md4Blocks, old.subarray(from, to), { first: true, last, from });
        // magic, then one COPY: opcode, 1-2 byte offset, 1-2 byte length; then END if last
        const what = `${blocks} blocks${tail ? ' + a short one' : ''} from ${from}${last ? ' to the end' : ''}`;
        assert.ok(delta.length <= 4 + 5 + 1, `${what}: ${delta.length} bytes, not one COPY`);
      }
    }
});
