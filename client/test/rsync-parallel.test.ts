import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  magicFor,
  parallelSignature,
  PARALLEL_MIN,
  rangeLength,
  SPAWN_WHEN_LEFT_MS,
  workersWorthIt,
  type SpawnPolicy,
} from '@deaddrop/client/rsync/index';
import { missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { ourSignature, rdiff } from './rsync-helpers.js';

// Files above PARALLEL_MIN go through the ranges of rsync/parallel.ts in the CLI: scanned apart and
// joined, by this thread alone or with workers (they start when the work left is long enough).
const MiB = 1 << 20;
const SIZE = PARALLEL_MIN + 7 * MiB + 12_345; // ~20 ranges, a short last block
const skip = missingTools('rdiff');

function pseudoRandom(seed: string, bytes: number): Buffer {
  const cipher = createCipheriv('aes-128-ctr', createHash('md5').update(seed).digest(), Buffer.alloc(16));
  return cipher.update(Buffer.alloc(bytes));
}

async function ours(args: string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
  const r = await runDeaddrop(['rdiff', '--force', ...args], { env: { ...process.env, ...env } });
  assert.equal(r.code, 0, `deaddrop rdiff ${args.join(' ')}: ${r.stderr}`);
}

test('a large file’s signature from the ranges equals rdiff’s, for every magic', { skip }, async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'old'), pseudoRandom('old', SIZE));
  for (const [hash, roll] of [
    ['md4', 'rollsum'],
    ['blake2', 'rabinkarp'],
  ] as const) {
    for (const block of ['2048', '0']) {
      const args = ['-H', hash, '-R', roll, '-b', block];
      await ours([...args, 'signature', join(dir, 'old'), join(dir, 'sig.ours')]);
      const theirs = rdiff(dir, [...args, 'signature', '@old', '@sig.rd'], {}, 'sig.rd');
      assert.ok(readFileSync(join(dir, 'sig.ours')).equals(theirs), `${hash}/${roll} -b ${block}`);
    }
  }
});

test(
  'a large file’s delta from the ranges: rdiff patches it byte-exact, as compact as one thread’s',
  { skip },
  async () => {
    const dir = tempDir();
    const old = pseudoRandom('old', SIZE);
    writeFileSync(join(dir, 'old'), old);
    await ours(['-H', 'md4', '-R', 'rollsum', '-b', '2048', 'signature', join(dir, 'old'), join(dir, 'sig')]);
    const edits: Record<string, Buffer> = {
      same: old,
      // rewritten bytes inside one range, and across the range cut at 8 MiB (ranges: whole MiBs here)
      rewrite: Buffer.concat([old.subarray(0, 20 * MiB + 100), pseudoRandom('x', 9000), old.subarray(20 * MiB + 9100)]),
      straddle: Buffer.concat([old.subarray(0, 8 * MiB - 5000), pseudoRandom('y', 9000), old.subarray(8 * MiB + 4000)]),
      // 3 bytes inserted: every later block is shifted off the block grid and off the range cuts
      insert: Buffer.concat([old.subarray(0, 5 * MiB + 1), Buffer.from('abc'), old.subarray(5 * MiB + 1)]),
      cut: Buffer.concat([old.subarray(0, 3 * MiB), old.subarray(3 * MiB + 777_777)]),
      append: Buffer.concat([old, pseudoRandom('tail', 3 * MiB + 5)]),
      truncate: old.subarray(0, SIZE - 9 * MiB - 11),
    };
    for (const [name, data] of Object.entries(edits)) {
      writeFileSync(join(dir, name), data);
      await ours(['delta', join(dir, 'sig'), join(dir, name), join(dir, `${name}.delta`)]);
      await ours(['delta', join(dir, 'sig'), join(dir, name), join(dir, `${name}.delta1`)], { DEADDROP_WORKERS: '1' });
      const parallel = readFileSync(join(dir, `${name}.delta`));
      const single = readFileSync(join(dir, `${name}.delta1`));
      const patched = rdiff(dir, ['patch', '@old', `@${name}.delta`, `@${name}.out`], {}, `${name}.out`);
      assert.ok(patched.equals(data), `${name}: rdiff patch of the parallel delta differs`);
      // a straddling match costs at most one block of LITERAL per range cut
      const cuts = Math.ceil(data.length / rangeLength(2048));
      assert.ok(
        parallel.length <= single.length + cuts * (2048 + 20),
        `${name}: ${parallel.length} vs ${single.length}`,
      );
      // in place and no LITERAL run across a cut (that one is split in two commands): the same bytes
      if (!['insert', 'cut', 'straddle', 'append'].includes(name))
        assert.ok(parallel.equals(single), `${name}: the delta equals one thread's`);
    }
    assert.equal(readFileSync(join(dir, 'same.delta')).length, 4 + 1 + 1 + 4 + 1, 'unchanged: magic, one COPY, END');
  },
);

test(
  'big blocks: ranges hold 64 blocks at least, and above 64 KiB one pass; an insertion costs 1/64 at most',
  { skip },
  async () => {
    const dir = tempDir();
    const old = pseudoRandom('old', SIZE);
    const data = Buffer.concat([old.subarray(0, 1000), Buffer.from('!'), old.subarray(1000)]);
    writeFileSync(join(dir, 'old'), old);
    writeFileSync(join(dir, 'new'), data);
    for (const block of [65536, 1 << 20]) {
      const args = ['-H', 'md4', '-R', 'rollsum', '-b', String(block)];
      const theirs = rdiff(dir, [...args, 'signature', '@old', '@sig'], {}, 'sig');
      assert.ok(theirs.length > 0);
      await ours(['delta', join(dir, 'sig'), join(dir, 'new'), join(dir, `${block}.delta`)]);
      const delta = readFileSync(join(dir, `${block}.delta`));
      const rd = rdiff(dir, ['delta', '@sig', '@new', `@${block}.rd`], {}, `${block}.rd`);
      const patched = rdiff(dir, ['patch', '@old', `@${block}.delta`, `@${block}.out`], {}, `${block}.out`);
      assert.ok(patched.equals(data), `-b ${block}: rdiff patch of our delta gives the new file`);
      if (block > 65536) assert.ok(delta.equals(rd), `-b ${block}: one pass, the same delta as rdiff's`);
      else
        assert.ok(delta.length <= rd.length + data.length / 64, `-b ${block}: ${delta.length} vs rdiff's ${rd.length}`);
    }
  },
);

test(
  'without WebAssembly SIMD (DEADDROP_NO_SIMD=1) MD4 goes block by block: the same signature and delta',
  { skip },
  async () => {
    const dir = tempDir();
    const old = pseudoRandom('old', SIZE);
    const data = Buffer.concat([
      old.subarray(0, 9 * MiB + 5),
      pseudoRandom('z', 20_000),
      old.subarray(9 * MiB + 20_005),
    ]);
    writeFileSync(join(dir, 'old'), old);
    writeFileSync(join(dir, 'new'), data);
    const args = ['-H', 'md4', '-R', 'rollsum', '-b', '2048'];
    const noSimd = { DEADDROP_NO_SIMD: '1' };
    await ours([...args, 'signature', join(dir, 'old'), join(dir, 'sig.lanes')]);
    await ours([...args, 'signature', join(dir, 'old'), join(dir, 'sig.scalar')], noSimd);
    const theirs = rdiff(dir, [...args, 'signature', '@old', '@sig.rd'], {}, 'sig.rd');
    assert.ok(readFileSync(join(dir, 'sig.lanes')).equals(theirs), 'four lanes: signature equals rdiff’s');
    assert.ok(readFileSync(join(dir, 'sig.scalar')).equals(theirs), 'block by block: signature equals rdiff’s');
    await ours(['delta', join(dir, 'sig.rd'), join(dir, 'new'), join(dir, 'lanes.delta')]);
    await ours(['delta', join(dir, 'sig.rd'), join(dir, 'new'), join(dir, 'scalar.delta')], noSimd);
    const lanes = readFileSync(join(dir, 'lanes.delta'));
    assert.ok(lanes.equals(readFileSync(join(dir, 'scalar.delta'))), 'the deltas are the same bytes');
    assert.ok(lanes.length < 20_000 + 2 * 2048 + 200, `a delta of ${lanes.length} bytes is not compact`);
    const patched = rdiff(dir, ['patch', '@old', '@lanes.delta', '@out'], {}, 'out');
    assert.ok(patched.equals(data), 'rdiff patch of the delta gives the new file');
  },
);

test('range workers start when this thread’s pace leaves more work than SPAWN_WHEN_LEFT_MS', () => {
  // 150 MiB in 1 MiB ranges, judged after 12: a BLAKE2 delta with few changes (~2 ms a range)
  // stays on one thread, a delta of rewritten data (~7 ms a range) starts its workers
  assert.equal(workersWorthIt(138, 4, 8, SPAWN_WHEN_LEFT_MS), false);
  assert.equal(workersWorthIt(138, 4, 28, SPAWN_WHEN_LEFT_MS), true);
  assert.equal(workersWorthIt(139, 3, 300, SPAWN_WHEN_LEFT_MS), false, 'the first ranges run cold: no judgement yet');
  assert.equal(workersWorthIt(0, 20, 1000, SPAWN_WHEN_LEFT_MS), false, 'nothing left');
});

test('range workers asked to start at once share the ranges; the signature is the one-thread one', async () => {
  const dir = tempDir();
  const path = join(dir, 'f');
  const data = pseudoRandom('spawn', 12 * MiB + 777);
  writeFileSync(path, data);
  const params = { magic: magicFor('md4', 'rollsum'), blockLen: 2048, strongLen: 8 };
  const run = async (spawn: SpawnPolicy) => {
    const parts: Uint8Array[] = [];
    const it = parallelSignature(path, data.length, params, 2, spawn)[Symbol.asyncIterator]();
    // the header, then the first range: held here, this thread takes no more ranges, and a
    // started worker takes some (up to the ahead limit)
    for (let i = 0; i < 2; i++) parts.push((await it.next()).value as Uint8Array);
    for (let waited = 0; spawn.whenLeftMs === 0 && spawn.workerRanges!.count === 0 && waited < 30_000; waited += 20)
      await new Promise((r) => setTimeout(r, 20));
    for (let r = await it.next(); !r.done; r = await it.next()) parts.push(r.value);
    return Buffer.concat(parts);
  };
  const eager: SpawnPolicy = { whenLeftMs: 0, workerRanges: { count: 0 } };
  const withWorker = await run(eager);
  assert.ok(eager.workerRanges!.count > 0, 'the worker did no range');
  const lazy: SpawnPolicy = { whenLeftMs: SPAWN_WHEN_LEFT_MS, workerRanges: { count: 0 } };
  const alone = await run(lazy);
  assert.equal(lazy.workerRanges!.count, 0, 'a 12 MiB signature started a worker');
  const serial = await ourSignature(data, params);
  assert.ok(withWorker.equals(serial), 'with a worker: the serial signature');
  assert.ok(alone.equals(serial), 'alone: the serial signature');
});

test('a file shorter than its stated size fails the parallel signature instead of reading zeros', async () => {
  const dir = tempDir();
  const path = join(dir, 'shrunk');
  writeFileSync(path, pseudoRandom('s', 6 * MiB));
  const params = { magic: magicFor('md4', 'rollsum'), blockLen: 2048, strongLen: 8 };
  const drain = async () => {
    for await (const _ of parallelSignature(path, 9 * MiB, params, 2)) void _;
  };
  await assert.rejects(drain(), /shrunk: shrank while being read \(ends before byte 6291456\)/);
});

test('a corrupt signature for a large file: clear error, non-zero exit, no output file', { skip }, async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'new'), pseudoRandom('n', SIZE));
  writeFileSync(join(dir, 'sig'), Buffer.from([0x72, 0x73, 0x01, 0x36, 0, 0, 8, 0, 0, 0, 0, 8, 1, 2, 3]));
  const r = await runDeaddrop(['rdiff', 'delta', join(dir, 'sig'), join(dir, 'new'), join(dir, 'out')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /sig: truncated block record 0 \(3 of 12 bytes\)/);
  assert.equal(existsSync(join(dir, 'out')), false);
  assert.deepEqual(readdirSync(dir).sort(), ['new', 'sig']);
});
