/** Worker thread entry: runs backup jobs (job-exec.ts) as they arrive, one at a time. */
import { parentPort } from 'node:worker_threads';
import { md4Blocks } from '../rsync/md4-lanes.js';
import { loadOwnerNames } from '../scan/owners.js';
import { runJob, type ExecContext } from './job-exec.js';
import type { Job } from './jobs.js';

// duplicity's signatures are MD4 (duplicitySignatureParams in rsync/magic.ts)
const ctx: ExecContext = { owners: loadOwnerNames(), strong: md4Blocks };

parentPort!.on('message', (job: Job) => {
  try {
    const result = runJob(job, ctx);
    const transfer = result.members.map((m) => m.data.buffer as ArrayBuffer);
    if (result.range?.delta) transfer.push(result.range.delta.buffer as ArrayBuffer);
    parentPort!.postMessage(result, transfer);
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: (err as Error).message ?? String(err) });
  }
});
