import { open, type FileHandle } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { noteAllocated } from '@deaddrop/common/young-gc';
import { DeaddropError } from '@deaddrop/common/errors';
import { opcodeLayout } from './delta-emitter.js';
import { DELTA_MAGIC } from './magic.js';

const COPY_CHUNK = 256 * 1024;

type State = { kind: 'magic' } | { kind: 'command' } | { kind: 'literal'; left: number } | { kind: 'end' };

function readInt(b: Uint8Array, off: number, width: number): number {
  let v = 0;
  for (let i = 0; i < width; i++) v = v * 256 + b[off + i]!;
  return v;
}

/**
 * librsync delta in, new file out. COPY commands read the basis with positional reads; a delta
 * that is truncated, corrupt, or copies past the basis end fails the stream (never short output).
 */
export function createPatchStream(basis: string | FileHandle, what = 'delta'): Transform {
  let fh: FileHandle | undefined = typeof basis === 'string' ? undefined : basis;
  const ownsHandle = typeof basis === 'string';
  let state: State = { kind: 'magic' };
  let pending = Buffer.alloc(0); // unparsed bytes of a header or command
  let offset = 0; // delta bytes consumed, for error messages
  let copyBuf: Buffer | undefined;
  let wantMore: (() => void) | undefined; // resolved when the reader asks for more output

  const fail = (msg: string) => new DeaddropError(`${what}: ${msg} (at byte ${offset})`);

  async function copy(stream: Transform, pos: number, len: number): Promise<void> {
    fh ??= await open(basis as string, 'r');
    copyBuf ??= Buffer.allocUnsafe(COPY_CHUNK);
    while (len > 0) {
      if (stream.destroyed) throw fail('output closed');
      const want = Math.min(len, COPY_CHUNK);
      const { bytesRead } = await fh.read(copyBuf, 0, want, pos);
      if (bytesRead === 0) throw fail(`COPY reads past the end of the basis file (position ${pos})`);
      pos += bytesRead;
      len -= bytesRead;
      // one COPY can span the whole basis (100 GB): wait for the reader instead of buffering
      if (!stream.push(Buffer.from(copyBuf.subarray(0, bytesRead))) && len > 0)
        await new Promise<void>((resolve) => (wantMore = resolve));
    }
  }

  async function consume(stream: Transform, chunk: Buffer): Promise<void> {
    const data = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    pending = Buffer.alloc(0);
    let i = 0;
    while (i < data.length) {
      if (state.kind === 'end') throw fail('data after END command');
      if (state.kind === 'literal') {
        const take = Math.min(state.left, data.length - i);
        stream.push(Buffer.from(data.subarray(i, i + take)));
        i += take;
        offset += take;
        state.left -= take;
        if (state.left === 0) state = { kind: 'command' };
        continue;
      }
      if (state.kind === 'magic') {
        if (data.length - i < 4) break;
        const magic = data.readUInt32BE(i);
        if (magic !== DELTA_MAGIC)
          throw fail(`bad magic 0x${magic.toString(16).padStart(8, '0')} (not a librsync delta)`);
        i += 4;
        offset += 4;
        state = { kind: 'command' };
        continue;
      }
      const op = data[i]!;
      if (op === 0) {
        i++;
        offset++;
        state = { kind: 'end' };
        continue;
      }
      const layout = opcodeLayout(op);
      if (!layout) throw fail(`reserved command byte 0x${op.toString(16)}`);
      const paramBytes = layout.param.reduce((a, b) => a + b, 0);
      if (data.length - i < 1 + paramBytes) break;
      let o = i + 1;
      const params = layout.param.map((w) => {
        const v = readInt(data, o, w);
        o += w;
        return v;
      });
      if (params.some((v) => !Number.isSafeInteger(v))) throw fail('parameter too large');
      i = o;
      offset += 1 + paramBytes;
      if (layout.literal !== undefined || layout.param.length === 1) {
        const len = layout.literal ?? params[0]!;
        if (len <= 0) throw fail('LITERAL of length 0');
        state = { kind: 'literal', left: len };
      } else {
        const [pos, len] = params as [number, number];
        if (len <= 0) throw fail('COPY of length 0');
        await copy(stream, pos, len);
      }
    }
    if (i < data.length) pending = Buffer.from(data.subarray(i));
  }

  async function closeHandle(): Promise<void> {
    if (ownsHandle && fh) await fh.close().catch(() => {});
  }

  const stream = new Transform({
    async transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        noteAllocated(chunk.length); // frees dead read buffers early: RSS stays flat
        await consume(this, chunk);
        cb();
      } catch (err) {
        await closeHandle();
        cb(err as Error);
      }
    },
    async flush(cb: TransformCallback) {
      await closeHandle();
      if (state.kind !== 'end') cb(fail('truncated (no END command)'));
      else cb();
    },
  });
  // Transform's own _read only resumes a finished transform call; also wake a paused COPY.
  const transformRead = stream._read.bind(stream);
  stream._read = (size: number) => {
    const wake = wantMore;
    wantMore = undefined;
    wake?.();
    transformRead(size);
  };
  stream.once('close', () => wantMore?.());
  return stream;
}
