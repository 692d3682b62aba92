import { Transform, type TransformCallback } from 'node:stream';
import { noteAllocated } from '@deaddrop/common/young-gc';
import { checkParams, weakKindOf, type SignatureParams } from './magic.js';
import { createStrongInto, type StrongInto } from './strongsum.js';
import { rabinKarpOf, rollsumOf } from './weaksum.js';

const OUT_CHUNK = 64 * 1024;

/** Writes one block's record at out[at]: the weak sum, then the strong sum cut to strongLen. */
export type RecordWriter = (data: Uint8Array, start: number, end: number, out: Buffer, at: number) => void;

export function recordWriter(params: SignatureParams, strong: StrongInto): RecordWriter {
  const weakOf = weakKindOf(params.magic) === 'rollsum' ? rollsumOf : rabinKarpOf;
  const { strongLen } = params;
  return (data, start, end, out, at) => {
    out.writeUInt32BE(weakOf(data, start, end), at);
    strong(data, start, end, out, at + 4, strongLen);
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
export function signatureRecords(params: SignatureParams, strong: StrongInto, data: Uint8Array): Buffer {
  const { blockLen, strongLen } = params;
  const recordLen = 4 + strongLen;
  const write = recordWriter(params, strong);
  const out = Buffer.alloc(Math.ceil(data.length / blockLen) * recordLen);
  for (let i = 0, at = 0; i < data.length; i += blockLen, at += recordLen)
    write(data, i, Math.min(i + blockLen, data.length), out, at);
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
  const addRecord = (stream: Transform, data: Uint8Array, start: number, end: number): void => {
    if (outLen + recordLen > out.length) flushOut(stream);
    write!(data, start, end, out, outLen);
    outLen += recordLen;
  };

  return new Transform({
    async transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        noteAllocated(chunk.length); // frees dead read buffers early: RSS stays flat
        write ??= recordWriter(params, await createStrongInto(magic));
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
        write ??= recordWriter(params, await createStrongInto(magic));
        if (filled > 0) addRecord(this, block, 0, filled);
        flushOut(this);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}
