/**
 * The delta scan's rolling step runs in WebAssembly (rsync/roll-kernel.ts) where it can, in
 * JavaScript (delta.ts) where it cannot. Both must give the same delta byte for byte: from a
 * stream fed in chunks of every size (the kernel's copy of the bytes must follow the scanner's
 * buffer as it moves) and from ranges, for every magic, and rdiff must patch the result.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deltaOfRange, magicFor, parseSignature, SumIndex, type StrongKind, type WeakKind } from '@deaddrop/client/rsync/index'; // prettier-ignore
import { rollKernelFor, useRollKernel } from '@deaddrop/client/rsync/roll-kernel';
import { createStrongBlocks } from '@deaddrop/client/rsync/strongsum';
import { missingTools, tempDir } from '@deaddrop/test';
import { editedData, MAGICS, ourDelta, ourSignature, prng, rdiff } from './rsync-helpers.js';

const skip = missingTools('rdiff');

/** The delta made with the rolling step in JavaScript and in WebAssembly. */
async function bothWays<T>(make: () => Promise<T>): Promise<{ js: T; kernel: T }> {
  useRollKernel(false);
  try {
    const js = await make();
    useRollKernel(true);
    return { js, kernel: await make() };
  } finally {
    useRollKernel(true);
  }
}

test('the WebAssembly rolling step is there (else these tests compare JavaScript with itself)', () => {
  assert.ok(rollKernelFor(new Int32Array(16)), 'no roll kernel: WebAssembly missing?');
});

test('streamed deltas: the same bytes with the rolling step in JavaScript and in WebAssembly', { skip }, async () => {
  const dir = tempDir();
  const rand = prng(424242);
  for (let round = 0; round < 24; round++) {
    const [hash, roll] = MAGICS[round % 4]!;
    const blockLen = 8 + Math.floor(rand() * 700);
    const { oldData, newData } = editedData(rand, blockLen);
    const magic = magicFor(hash as StrongKind, roll as WeakKind);
    const sig = await ourSignature(oldData, { magic, blockLen, strongLen: round % 3 === 0 ? 16 : 8 });
    // chunks from 1 byte (the buffer moves under the kernel's copy all the time) to 64 KiB
    const chunk = [1, 7, 100, 4096, 65_536][round % 5]!;
    const { js, kernel } = await bothWays(() => ourDelta(sig, newData, chunk));
    const label = `round ${round} (${hash}/${roll}, block ${blockLen}, chunks of ${chunk})`;
    assert.ok(kernel.equals(js), `${label}: the deltas differ`);
    const patched = rdiff(dir, ['patch', '@old', '@d', '@n'], { old: oldData, d: kernel }, 'n');
    assert.ok(patched.equals(newData), `${label}: rdiff patch`);
  }
});

test('range deltas: the same bytes with the rolling step in JavaScript and in WebAssembly', async () => {
  const rand = prng(777);
  for (const [hash, roll] of MAGICS) {
    const blockLen = 512;
    const { oldData, newData } = editedData(rand, blockLen);
    const magic = magicFor(hash as StrongKind, roll as WeakKind);
    const sig = parseSignature(await ourSignature(oldData, { magic, blockLen, strongLen: 8 }));
    const index = new SumIndex(sig);
    const strong = await createStrongBlocks(magic);
    const rangeLen = 20 * blockLen;
    const ranges = async () => {
      const parts: Uint8Array[] = [];
      for (let from = 0; from < newData.length; from += rangeLen) {
        const data = newData.subarray(from, Math.min(newData.length, from + rangeLen));
        parts.push(deltaOfRange(sig, index, strong, data, { first: from === 0, last: from + rangeLen >= newData.length, from })); // prettier-ignore
      }
      return Buffer.concat(parts);
    };
    const { js, kernel } = await bothWays(ranges);
    assert.ok(kernel.equals(js), `${hash}/${roll}: the range deltas differ`);
  }
});
