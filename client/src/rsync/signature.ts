import { Transform, type TransformCallback } from 'node:stream';
import { noteAllocated } from '@deaddrop/common/young-gc';
import { checkParams, weakKindOf, type SignatureParams } from './magic.js';
import { createStrongInto, type StrongInto } from './strongsum.js';
import { rabinKarpOf, rollsumOf } from './weaksum.js';

const OUT_CHUNK = 64 * 1024;

/** File bytes in, librsync signature out (header, then weak + truncated strong sum per block). */
export function createSignatureStream(params: SignatureParams): Transform {
  checkParams(params);
  const { magic, blockLen, strongLen } = params;
  const weakOf = weakKindOf(magic) === 'rollsum' ? rollsumOf : rabinKarpOf;
  const recordLen = 4 + strongLen;
  const block = new Uint8Array(blockLen);
  let filled = 0;
  let strong: StrongInto | undefined;
  let out = Buffer.allocUnsafe(Math.max(OUT_CHUNK, 12 + recordLen));
  let outLen = 0;

  const header = Buffer.alloc(12);
  header.writeUInt32BE(magic >>> 0, 0);
  header.writeUInt32BE(blockLen, 4);
  header.writeUInt32BE(strongLen, 8);
  header.copy(out, 0);
  outLen = 12;

  const flushOut = (stream: Transform): void => {
    if (outLen === 0) return;
    stream.push(out.subarray(0, outLen));
    out = Buffer.allocUnsafe(out.length);
    outLen = 0;
  };
  const addRecord = (stream: Transform, data: Uint8Array, start: number, end: number): void => {
    if (outLen + recordLen > out.length) flushOut(stream);
    out.writeUInt32BE(weakOf(data, start, end), outLen);
    strong!(data, start, end, out, outLen + 4, strongLen);
    outLen += recordLen;
  };

  return new Transform({
    async transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        noteAllocated(chunk.length); // frees dead read buffers early: RSS stays flat
        strong ??= await createStrongInto(magic);
        let i = 0;
        if (filled > 0) {
          const take = Math.min(blockLen - filled, chunk.length);
          block.set(chunk.subarray(0, take), filled);
          filled += take;
          i = take;
          if (filled < blockLen) return cb();
          addRecord(this, block, 0, blockLen);
          filled = 0;
        }
        // Whole blocks straight from the chunk: no copy.
        for (; i + blockLen <= chunk.length; i += blockLen) addRecord(this, chunk, i, i + blockLen);
        if (i < chunk.length) {
          block.set(chunk.subarray(i), 0);
          filled = chunk.length - i;
        }
        if (outLen >= OUT_CHUNK / 2) flushOut(this);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    async flush(cb: TransformCallback) {
      try {
        strong ??= await createStrongInto(magic);
        if (filled > 0) addRecord(this, block, 0, filled);
        flushOut(this);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}
