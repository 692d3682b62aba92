import { Transform, type TransformCallback } from 'node:stream';
import { noteAllocated } from '@deaddrop/common/young-gc';
import { checkParams, weakKindOf, type SignatureParams } from './magic.js';
import { createStrongBlocks, type StrongBlocks } from './strongsum.js';
import { rabinKarpOf } from './weaksum.js';

const OUT_CHUNK = 64 * 1024;

/**
 * Writes the records of `count` consecutive blocks of `blockLen` bytes from data[start] at
 * out[at]: per block the weak sum, then the strong sum cut to strongLen. A short last block is
 * a call of its own (count 1, its length as blockLen).
 */
export type RecordWriter = (
  data: Uint8Array,
  start: number,
  count: number,
  blockLen: number,
  out: Buffer,
  at: number,
) => void;

/** Rollsums of one call's blocks: one array, grown as needed and kept between calls. */
let rollsums = new Uint32Array(0);

export function recordWriter(params: SignatureParams, strong: StrongBlocks): RecordWriter {
  const { strongLen } = params;
  const recordLen = 4 + strongLen;
  // all strong sums in one call: MD4 hashes them four at a time (and sums rollsums on the way)
  if (weakKindOf(params.magic) === 'rollsum')
    return (data, start, count, blockLen, out, at) => {
      if (rollsums.length < count) rollsums = new Uint32Array(count);
      strong(data, start, count, blockLen, out, at + 4, recordLen, strongLen, rollsums);
      for (let i = 0; i < count; i++) out.writeUInt32BE(rollsums[i]!, at + i * recordLen);
    };
  return (data, start, count, blockLen, out, at) => {
    for (let i = 0, from = start; i < count; i++, from += blockLen)
      out.writeUInt32BE(rabinKarpOf(data, from, from + blockLen), at + i * recordLen);
    strong(data, start, count, blockLen, out, at + 4, recordLen, strongLen);
  };
}

/** The 12-byte signature header: magic, block length, strong sum length. */
export function signatureHeader(params: SignatureParams): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt32BE(params.magic >>> 0, 0);
  header.writeUInt32BE(params.blockLen, 4);
  header.writeUInt32BE(params.strongLen, 8);
  return header;
}

/**
 * The records of data's blocks (the last may be short): one range of a file cut at multiples
 * of the block length, so header + every range's records in order is the file's signature.
 */
export function signatureRecords(params: SignatureParams, strong: StrongBlocks, data: Uint8Array): Buffer {
  const { blockLen, strongLen } = params;
  const recordLen = 4 + strongLen;
  const write = recordWriter(params, strong);
  const whole = Math.floor(data.length / blockLen);
  const out = Buffer.alloc(Math.ceil(data.length / blockLen) * recordLen);
  write(data, 0, whole, blockLen, out, 0);
  const rest = data.length - whole * blockLen;
  if (rest > 0) write(data, whole * blockLen, 1, rest, out, whole * recordLen);
  return out;
}

/** File bytes in, librsync signature out (header, then weak + truncated strong sum per block). */
export function createSignatureStream(params: SignatureParams): Transform {
  checkParams(params);
  const { magic, blockLen, strongLen } = params;
  const recordLen = 4 + strongLen;
  const block = new Uint8Array(blockLen);
  let filled = 0;
  let write: RecordWriter | undefined;
  let out = Buffer.allocUnsafe(Math.max(OUT_CHUNK, 12 + recordLen));
  let outLen = 0;

  signatureHeader(params).copy(out, 0);
  outLen = 12;

  const flushOut = (stream: Transform): void => {
    if (outLen === 0) return;
    stream.push(out.subarray(0, outLen));
    out = Buffer.allocUnsafe(out.length);
    outLen = 0;
  };
  /** Records of `count` blocks of `len` bytes from data[start]. */
  const addRecords = (stream: Transform, data: Uint8Array, start: number, count: number, len: number): void => {
    while (count > 0) {
      if (outLen + recordLen > out.length) flushOut(stream);
      const fit = Math.min(count, Math.floor((out.length - outLen) / recordLen));
      write!(data, start, fit, len, out, outLen);
      outLen += fit * recordLen;
      start += fit * len;
      count -= fit;
    }
  };

  return new Transform({
    async transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        noteAllocated(chunk.length); // frees dead read buffers early: RSS stays flat
        write ??= recordWriter(params, await createStrongBlocks(magic));
        let i = 0;
        if (filled > 0) {
          const take = Math.min(blockLen - filled, chunk.length);
          block.set(chunk.subarray(0, take), filled);
          filled += take;
          i = take;
          if (filled < blockLen) return cb();
          addRecords(this, block, 0, 1, blockLen);
          filled = 0;
        }
        // Whole blocks straight from the chunk: no copy.
        const whole = Math.floor((chunk.length - i) / blockLen);
        addRecords(this, chunk, i, whole, blockLen);
        i += whole * blockLen;
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
        write ??= recordWriter(params, await createStrongBlocks(magic));
        if (filled > 0) addRecords(this, block, 0, 1, filled);
        flushOut(this);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}
