/**
 * teeStream: every branch gets the same bytes, the source is read once and held back by the
 * slowest branch (bounded buffering), and a destroyed branch releases the others.
 */
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { seededBytes } from '@deaddrop/test';
import { teeStream } from '../src/transport/tee.js';

const CHUNK = 16 * 1024;

/** A source that counts how far it has been read. */
function countingSource(data: Buffer) {
  const state = { produced: 0 };
  const stream = new Readable({
    highWaterMark: CHUNK,
    read() {
      if (state.produced >= data.length) return void this.push(null);
      const piece = data.subarray(state.produced, state.produced + CHUNK);
      state.produced += piece.length;
      this.push(piece);
    },
  });
  return { stream, state };
}

function collector() {
  const parts: Buffer[] = [];
  let release: (() => void) | undefined;
  let gated = false;
  const w = new Writable({
    highWaterMark: CHUNK,
    write(chunk: Buffer, _e, cb) {
      parts.push(chunk);
      if (gated) release = cb;
      else cb();
    },
  });
  return {
    w,
    data: () => Buffer.concat(parts),
    gate: () => (gated = true),
    open: () => {
      gated = false;
      release?.();
      release = undefined;
    },
  };
}

test('three branches get identical bytes from one read of the source', async () => {
  const data = seededBytes('tee', 1_000_003);
  const { stream, state } = countingSource(data);
  const branches = teeStream(stream, 3);
  const outs = branches.map(() => collector());
  await Promise.all(branches.map((b, i) => pipeline(b, outs[i]!.w)));
  for (const o of outs) assert.deepEqual(o.data(), data);
  assert.equal(state.produced, data.length);
});

test('a stalled branch holds the source back (bounded buffering), then all finish', async () => {
  const data = seededBytes('slow', 4 * 1024 * 1024);
  const { stream, state } = countingSource(data);
  const [fast, slow] = teeStream(stream, 2);
  const f = collector();
  const s = collector();
  s.gate();
  const done = Promise.all([pipeline(fast!, f.w), pipeline(slow!, s.w)]);
  // Let the fast side drain as much as it can while the slow side is stalled.
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  assert.ok(state.produced < 8 * CHUNK, `source read ${state.produced} bytes while one branch was stalled`);
  assert.ok(f.data().length < 8 * CHUNK);
  s.open();
  await done;
  assert.deepEqual(f.data(), data);
  assert.deepEqual(s.data(), data);
});

test('a destroyed branch no longer holds the others back; all destroyed closes the source', async () => {
  const data = seededBytes('drop', 2 * 1024 * 1024);
  const { stream } = countingSource(data);
  const [keep, drop] = teeStream(stream, 2);
  drop!.destroy(); // never read: a sink that failed before taking the body
  const k = collector();
  await pipeline(keep!, k.w);
  assert.deepEqual(k.data(), data);

  const other = countingSource(data);
  const [a, b] = teeStream(other.stream, 2);
  a!.destroy();
  b!.destroy();
  await new Promise((r) => setImmediate(r));
  assert.ok(other.stream.destroyed);
});

test('a source error reaches every branch', async () => {
  const src = new Readable({
    read() {
      this.destroy(new Error('disk read failed'));
    },
  });
  const branches = teeStream(src, 2);
  for (const b of branches) await assert.rejects(pipeline(b, collector().w), /disk read failed/);
});
