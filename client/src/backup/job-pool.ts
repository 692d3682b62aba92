/**
 * Worker threads for backup jobs, so reading, signing and deflating use every core while the
 * main thread scans, orders the results and encrypts. Without workers (DEADDROP_WORKERS=0,
 * or no worker file next to this one, as in a single-file bundle) jobs run inline.
 */
import { DeaddropError } from '@deaddrop/common/errors';
import { md4Blocks } from '../rsync/md4-lanes.js';
import { loadOwnerNames } from '../scan/owners.js';
import { defaultWorkerCount, startWorker, workerEntry } from '@deaddrop/common/start-worker';
import { runJob } from './job-exec.js';
import type { Job, JobResult } from './jobs.js';

export interface JobPool {
  readonly workers: number;
  run(job: Job): Promise<JobResult>;
  close(): Promise<void>;
}

async function inlinePool(): Promise<JobPool> {
  const ctx = { owners: loadOwnerNames(), strong: md4Blocks };
  return { workers: 0, run: async (job) => runJob(job, ctx), close: async () => {} };
}

export async function createJobPool(count = defaultWorkerCount()): Promise<JobPool> {
  const url = workerEntry(import.meta.url, 'job-worker');
  if (count === 0 || url === undefined) return inlinePool();
  const workers = Array.from({ length: count }, () => ({
    // a small young generation: scavenges come often and free dead buffers early (RSS)
    worker: startWorker(url, { resourceLimits: { maxYoungGenerationSizeMb: 6 } }),
    waiting: new Map<number, { resolve: (r: JobResult) => void; reject: (e: Error) => void }>(),
  }));
  for (const w of workers) {
    w.worker.on('message', (msg: JobResult & { error?: string }) => {
      const p = w.waiting.get(msg.id);
      if (!p) return;
      w.waiting.delete(msg.id);
      if (msg.error !== undefined) p.reject(new DeaddropError(msg.error));
      else p.resolve(msg);
    });
    const failAll = (err: Error) => {
      for (const p of w.waiting.values()) p.reject(err);
      w.waiting.clear();
    };
    w.worker.on('error', failAll);
    w.worker.on('exit', (code) => failAll(new DeaddropError(`backup worker exited (${code})`)));
  }
  return {
    workers: count,
    run(job) {
      // the least busy worker: jobs differ in cost
      const w = workers.reduce((a, b) => (b.waiting.size < a.waiting.size ? b : a));
      return new Promise((resolve, reject) => {
        w.waiting.set(job.id, { resolve, reject });
        w.worker.postMessage(job);
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
