/**
 * Worker thread entry for `deaddrop rdiff` on large files (parallel.ts): takes ranges from the
 * shared counter until none are left and posts each one's signature records or delta commands.
 */
import { closeSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { rangeBuffers, rangeWork, readRange, takeRange, type RangeReply, type RangeSetup } from './parallel.js';

const setup = workerData as RangeSetup;
const work = await rangeWork(setup);
const fd = openSync(setup.path, 'r');
const buffer = rangeBuffers(setup);
try {
  for (let index = takeRange(setup, true); index >= 0; index = takeRange(setup, true)) {
    const result = work(readRange(setup, fd, index, buffer()), index);
    parentPort!.postMessage({ index, result } satisfies RangeReply, [result.buffer as ArrayBuffer]);
  }
} catch (err) {
  parentPort!.postMessage({ index: -1, error: (err as Error).message ?? String(err) } satisfies RangeReply);
} finally {
  closeSync(fd);
}
