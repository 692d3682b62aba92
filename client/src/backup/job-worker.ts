/** Worker thread entry: runs backup jobs (job-exec.ts) as they arrive, one at a time. */
import { parentPort } from 'node:worker_threads';
import { createMD4 } from 'hash-wasm';
import { loadOwnerNames } from '../scan/owners.js';
import { runJob, type ExecContext } from './job-exec.js';
import type { Job } from './jobs.js';

const md4 = await createMD4();
const ctx: ExecContext = {
  owners: loadOwnerNames(),
  strong: (block) => {
    md4.init();
    md4.update(block);
    return md4.digest('binary');
  },
};

parentPort!.on('message', (job: Job) => {
  try {
    const result = runJob(job, ctx);
    parentPort!.postMessage(
      result,
      result.members.map((m) => m.data.buffer as ArrayBuffer),
    );
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: (err as Error).message ?? String(err) });
  }
});
