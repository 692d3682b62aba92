import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  moduleOfOneFunction,
  op,
  sleb,
  uleb,
  v128,
  V128,
  wasm,
  type WasmMemory,
} from '@deaddrop/client/rsync/wasm-encoding';

test('LEB128 encodings match the WebAssembly spec examples', () => {
  assert.deepEqual(uleb(0), [0]);
  assert.deepEqual(uleb(127), [0x7f]);
  assert.deepEqual(uleb(128), [0x80, 0x01]);
  assert.deepEqual(uleb(624485), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(sleb(-1), [0x7f]);
  assert.deepEqual(sleb(63), [0x3f]);
  assert.deepEqual(sleb(64), [0xc0, 0x00]);
  assert.deepEqual(sleb(-123456), [0xc0, 0xbb, 0x78]);
  assert.deepEqual(sleb(0x5a827999), [0x99, 0xf3, 0x89, 0xd4, 0x05]);
});

test('SIMD opcodes are the prefix, the LEB128 opcode and nothing more (as wabt 1.0.39 writes them)', () => {
  assert.deepEqual(v128.shl32, [0xfd, 0xab, 0x01]);
  assert.deepEqual(v128.add32, [0xfd, 0xae, 0x01]);
  assert.deepEqual(v128.widenLow8, [0xfd, 0x89, 0x01]);
  assert.deepEqual(v128.pairSums8, [0xfd, 0x7d]);
  assert.deepEqual(v128.load(16), [0xfd, 0x00, 0x04, 0x10]);
});

test('a built module validates and runs: i32x4 lanes added in memory', () => {
  // mem[0..16) += mem[16..32) as i32x4, through the encoder's own ops
  const body = [
    ...op.i32(0),
    ...op.i32(0),
    ...v128.load(0),
    ...op.i32(0),
    ...v128.load(16),
    ...v128.add32,
    ...v128.store(0),
  ];
  const bytes = moduleOfOneFunction({ fnName: 'run', params: 0, locals: [[1, V128]], body, pages: 1 });
  assert.ok(wasm, 'no WebAssembly in this node');
  assert.ok(wasm.validate(bytes));
  const { exports } = new wasm.Instance(new wasm.Module(bytes));
  const words = new Int32Array((exports.memory as WasmMemory).buffer, 0, 8);
  words.set([1, 2, 3, 0x7fffffff, 10, 20, 30, 1]);
  (exports.run as () => void)();
  assert.deepEqual([...words.subarray(0, 4)], [11, 22, 33, -0x80000000]);
});
