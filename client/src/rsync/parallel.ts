/**
 * `deaddrop rdiff` on a large regular file, on every core: the file is cut into ranges of
 * whole blocks; this thread and worker threads (range-worker.ts) take the next range from a
 * shared counter, read it straight from the file and scan it; results are put back in file
 * order here. This thread starts alone and starts the workers only when its own pace says the
 * work left is long enough to share: a worker delivers its first range ~100 ms after it starts.
 *
 * Signature records of whole blocks do not depend on their neighbours, so the parallel
 * signature is the serial one byte for byte. Delta ranges are scanned apart and joined through
 * one DeltaEmitter (a COPY across a cut stays one command): a valid delta, byte for byte the
 * serial one for in-place edits. It differs where a LITERAL run crosses a cut (two commands)
 * and where, after an insertion, a match would straddle a cut (that block goes as LITERAL).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { DeaddropError } from '@deaddrop/common/errors';
import { defaultWorkerCount, startWorker, workerEntry } from '@deaddrop/common/start-worker';
import { deltaOfRange } from './delta.js';
import { DeltaEmitter, replayCommands } from './delta-emitter.js';
import { strongKindOf, type SignatureParams } from './magic.js';
import { rangeBufferFor } from './md4-lanes.js';
import { readSharedSignature, type Signature } from './read-signature.js';
import { signatureHeader, signatureRecords } from './signature.js';
import { createStrongBlocks } from './strongsum.js';
import { SumIndex, type SumIndexTables } from './sum-index.js';

const MiB = 1 << 20;
/** Below this one thread is done before a worker thread would have started. */
export const PARALLEL_MIN = 32 * MiB;
/** Bytes per range (rounded to whole blocks). */
const RANGE_TARGET = 1 * MiB;
/**
 * Blocks per range at least: a delta loses up to one block of matches at each range cut (a
 * match that straddles it goes as LITERAL), so at most 1/64 of the file, not all of it when
 * blocks are as big as a range.
 */
const MIN_BLOCKS_PER_RANGE = 64;
/** Above this block length a range of 64 blocks would hold too much in flight: one pass. */
export const RANGE_BLOCK_MAX = 64 * 1024;
/** Ranges taken but not yet written, per thread: bounds memory when the output is slow. */
const AHEAD_PER_THREAD = 2;
/**
 * Workers start when this thread's pace leaves more than this much work: on less they add
 * ~14 MiB of RSS and gain nothing. On 2 cores here (150 MiB file, median of 9, output to
 * tmpfs), a worker made the md4 delta with 2 MiB changed (~0.2 s of work) 0.32 -> 0.38 s,
 * left the BLAKE2 one (~0.3 s) at 0.47 s, and cut the 100%-changed md4 delta (~1.6 s) from
 * 1.9 to 1.3 s.
 */
export const SPAWN_WHEN_LEFT_MS = 500;
/**
 * Ranges this thread does before it times its pace (they run cold: JIT, WebAssembly compile,
 * ~12 ms for the first one here, and a few more before V8 optimizes the scan), and ranges it
 * then times before it judges.
 */
const WARM_UP = 8;
const PACE_OVER = 4;

type RangeInput = (
  { kind: 'signature'; params: SignatureParams } | { kind: 'delta'; sig: Signature; index: SumIndexTables }
) & { path: string; size: number };

export type RangeSetup = RangeInput & {
  rangeLen: number;
  /** Int32Array over it: [next range to take, ranges written, most ranges taken ahead]. */
  control: SharedArrayBuffer;
};
const NEXT = 0;
const WRITTEN = 1;
const AHEAD = 2;

/** Milliseconds on a monotonic clock. Not performance.now(): its first use loads perf_hooks (~3 ms). */
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

export type RangeReply = { index: number; result: Uint8Array } | { index: number; error: string };

/**
 * Threads (this one included) for a file of `size` bytes in blocks of `blockLen`, or undefined
 * to stay on one thread.
 */
export function parallelThreads(size: number | undefined, blockLen: number): number | undefined {
  const count = defaultWorkerCount();
  if (size === undefined || size < PARALLEL_MIN || count < 2 || blockLen > RANGE_BLOCK_MAX) return undefined;
  return workerEntry(import.meta.url, 'range-worker') ? count : undefined;
}

/** A range: whole blocks, about RANGE_TARGET bytes, at least MIN_BLOCKS_PER_RANGE blocks. */
export function rangeLength(blockLen: number): number {
  return Math.max(MIN_BLOCKS_PER_RANGE, Math.floor(RANGE_TARGET / blockLen)) * blockLen;
}

/**
 * What one range's bytes turn into: signature records or delta commands (no magic, END only at
 * EOF), on an ArrayBuffer of their own (workers transfer them). A delta's signature and index are
 * shared by all threads (SharedArrayBuffers).
 */
export async function rangeWork(setup: RangeSetup): Promise<(data: Uint8Array, index: number) => Uint8Array> {
  if (setup.kind === 'signature') {
    const strong = await createStrongBlocks(setup.params.magic);
    return (data) => signatureRecords(setup.params, strong, data);
  }
  const { sig } = setup;
  const index = new SumIndex(sig, setup.index);
  const strong = await createStrongBlocks(sig.magic);
  const lastIndex = rangeCount(setup) - 1;
  return (data, i) =>
    deltaOfRange(sig, index, strong, data, { first: false, last: i === lastIndex, from: i * setup.rangeLen });
}

function rangeCount(setup: RangeSetup): number {
  return Math.max(1, Math.ceil(setup.size / setup.rangeLen));
}

/**
 * Claims the next range, or returns -1: none left, or (when `wait`, after blocking until the
 * writer catches up; else at once) the writer is too far behind.
 */
export function takeRange(setup: RangeSetup, wait: boolean): number {
  const control = new Int32Array(setup.control);
  const count = rangeCount(setup);
  for (;;) {
    const next = Atomics.load(control, NEXT);
    if (next >= count) return -1;
    const written = Atomics.load(control, WRITTEN);
    if (next >= written + Atomics.load(control, AHEAD)) {
      if (!wait) return -1;
      Atomics.wait(control, WRITTEN, written, 1000);
      continue;
    }
    if (Atomics.compareExchange(control, NEXT, next, next + 1) === next) return next;
  }
}

/**
 * Where this thread reads its next range to. With MD4 sums, memory the MD4 lanes hash in place
 * (md4-lanes.ts; taken anew for each range, as that memory may grow); else one reused buffer.
 */
export function rangeBuffers(setup: RangeSetup): () => Uint8Array {
  const { magic, blockLen } = setup.kind === 'signature' ? setup.params : setup.sig;
  if (strongKindOf(magic) === 'md4') return () => rangeBufferFor(setup.rangeLen, blockLen);
  const buffer = new Uint8Array(setup.rangeLen);
  return () => buffer;
}

/** Reads range `index` of the file into buffer; a file that got shorter is an error, never zeros. */
export function readRange(setup: RangeSetup, fd: number, index: number, buffer: Uint8Array): Uint8Array {
  const start = index * setup.rangeLen;
  const len = Math.min(setup.size, start + setup.rangeLen) - start;
  const data = buffer.subarray(0, len);
  for (let got = 0; got < len;) {
    const n = readSync(fd, data, got, len - got, start + got);
    if (n === 0) throw new DeaddropError(`${setup.path}: shrank while being read (ends before byte ${start + got})`);
    got += n;
  }
  return data;
}

/**
 * Whether to start the workers now: this thread did `timed` ranges since its warm-up in
 * `timedMs`, and at that pace the `left` ranges would take it longer than `whenLeftMs`.
 */
export function workersWorthIt(left: number, timed: number, timedMs: number, whenLeftMs: number): boolean {
  return timed >= PACE_OVER && left * (timedMs / timed) > whenLeftMs;
}

/** When range workers start, and (for tests) a count of the ranges they did. */
export interface SpawnPolicy {
  /** 0: at once. */
  whenLeftMs: number;
  workerRanges?: { count: number };
}

/** The ranges' results in file order, computed here and, when worth it, by `threads - 1` workers. */
async function* rangeResults(
  input: RangeInput,
  blockLen: number,
  threads: number,
  spawn: SpawnPolicy = { whenLeftMs: SPAWN_WHEN_LEFT_MS },
): AsyncGenerator<Uint8Array> {
  const control = new SharedArrayBuffer(12);
  const counters = new Int32Array(control);
  counters[AHEAD] = AHEAD_PER_THREAD * threads;
  const setup: RangeSetup = { ...input, control, rangeLen: rangeLength(blockLen) };
  const count = rangeCount(setup);
  const done = new Map<number, Uint8Array>();
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let finished = false;
  const url = workerEntry(import.meta.url, 'range-worker')!;
  const workers: Worker[] = [];
  const startWorkers = () => {
    for (let i = 1; i < threads; i++) {
      const worker = startWorker(url, { workerData: setup, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      worker.on('message', (msg: RangeReply) => {
        if ('error' in msg) failure ??= new DeaddropError(msg.error);
        else {
          done.set(msg.index, msg.result);
          if (spawn.workerRanges) spawn.workerRanges.count++;
        }
        wake?.();
      });
      worker.on('error', (err) => {
        failure ??= err;
        wake?.();
      });
      // a worker that runs out of ranges ends with 0; any other end loses the ranges it took
      worker.on('exit', (code) => {
        if (code !== 0 && !finished) failure ??= new DeaddropError(`rdiff worker thread ended (exit code ${code})`);
        wake?.();
      });
      workers.push(worker);
    }
  };
  if (spawn.whenLeftMs <= 0 && threads > 1) startWorkers();
  let mineDone = 0;
  let warmAt = 0;
  const maybeStartWorkers = () => {
    if (threads < 2 || workers.length > 0) return;
    if (++mineDone === WARM_UP) warmAt = nowMs();
    if (mineDone <= WARM_UP) return;
    const left = count - Atomics.load(counters, NEXT);
    if (workersWorthIt(left, mineDone - WARM_UP, nowMs() - warmAt, spawn.whenLeftMs)) startWorkers();
  };
  const work = await rangeWork(setup);
  const fd = openSync(setup.path, 'r');
  const buffer = rangeBuffers(setup);
  try {
    for (let written = 0; written < count;) {
      if (failure) throw failure;
      const ready = done.get(written);
      if (ready) {
        done.delete(written);
        Atomics.store(counters, WRITTEN, ++written);
        Atomics.notify(counters, WRITTEN);
        yield ready;
        continue;
      }
      const mine = takeRange(setup, false);
      if (mine >= 0) {
        done.set(mine, work(readRange(setup, fd, mine, buffer()), mine));
        maybeStartWorkers();
        await new Promise(setImmediate); // let the workers' results in
      } else await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    const now = fstatSync(fd).size;
    if (now !== setup.size)
      throw new DeaddropError(`${setup.path}: changed size while being read (${setup.size} -> ${now} bytes)`);
  } finally {
    finished = true;
    Atomics.store(counters, NEXT, count); // workers stop taking ranges
    Atomics.store(counters, WRITTEN, count);
    Atomics.notify(counters, WRITTEN);
    closeSync(fd);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** The signature of the `size`-byte file at `path`, header first. */
export async function* parallelSignature(
  path: string,
  size: number,
  params: SignatureParams,
  threads: number,
  spawn?: SpawnPolicy,
): AsyncGenerator<Uint8Array> {
  yield signatureHeader(params);
  yield* rangeResults({ kind: 'signature', params, path, size }, params.blockLen, threads, spawn);
}

/** Reads and checks a signature file into tables (and an index) that worker threads share. */
export function loadSharedSignature(path: string): { sig: Signature; index: SumIndex } {
  const sig = readSharedSignature(path);
  return { sig, index: SumIndex.shared(sig) };
}

/** The delta of the `size`-byte file at `path` against a signature from loadSharedSignature. */
export async function* parallelDelta(
  path: string,
  size: number,
  signature: { sig: Signature; index: SumIndex },
  threads: number,
  spawn?: SpawnPolicy,
): AsyncGenerator<Uint8Array> {
  const out: Buffer[] = [];
  const emit = new DeltaEmitter((c) => out.push(c));
  const input = { kind: 'delta', sig: signature.sig, index: signature.index.tables, path, size } as const;
  for await (const commands of rangeResults(input, signature.sig.blockLen, threads, spawn)) {
    replayCommands(commands, emit);
    yield* out.splice(0);
  }
  emit.end();
  yield* out.splice(0);
}
