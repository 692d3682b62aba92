/**
 * Backup jobs on worker threads and on the main thread, so reading, signing and deflating use
 * every core while the main thread also scans, orders the results and encrypts. Jobs wait in
 * one queue, in the order given: each worker holds up to WORKER_DEPTH of them (the next one
 * is there when it ends the last), and the main thread takes the oldest of the rest, one per
 * turn of its event loop, while more than HELP_AT wait. Without workers (DEADDROP_WORKERS=0,
 * or no worker file next to this one, as in a single-file bundle) the main thread runs them all.
 */
import { DeaddropError } from '@deaddrop/common/errors';
import { md4Blocks } from '../rsync/md4-lanes.js';
import { loadOwnerNames } from '../scan/owners.js';
import { defaultWorkerCount, startWorker, workerEntry } from '@deaddrop/common/start-worker';
import { runJob, type ExecContext } from './job-exec.js';
import type { Job, JobResult } from './jobs.js';

export interface JobPool {
  /** Worker threads (0: the main thread runs every job). */
  readonly workers: number;
  /** Jobs the main thread ran itself. */
  readonly inline: number;
  run(job: Job): Promise<JobResult>;
  close(): Promise<void>;
}

/** Jobs posted to a worker and not yet answered: one it runs, one it starts next. */
const WORKER_DEPTH = 2;
/**
 * With workers, the main thread takes a job only when more than this many wait: its own work
 * (ordering, encrypting, writing) comes first, and a main thread busy with jobs while results
 * wait held the workers up (the bench's full backup with 1 worker: never helping 5.1-5.4 s,
 * helping at any backlog 4.8-5.0 s, while more than 3 wait 4.7-4.9 s).
 */
const HELP_AT = 3;

interface Pending {
  job: Job;
  resolve: (r: JobResult) => void;
  reject: (e: Error) => void;
}

interface PoolWorker {
  worker: ReturnType<typeof startWorker>;
  posted: Map<number, Pending>;
}

/**
 * Worker threads by default: one fewer than the cores (at most 3), the main thread being the
 * last. Two workers on two cores left the main thread a third of a core and cost some 20 MiB
 * more for no gain in wall time (the bench's full backup, with the main thread helping one).
 */
export function backupWorkerCount(): number {
  if (process.env.DEADDROP_WORKERS !== undefined) return defaultWorkerCount();
  return Math.max(1, defaultWorkerCount() - 1);
}

export async function createJobPool(count = backupWorkerCount()): Promise<JobPool> {
  const ctx: ExecContext = { owners: loadOwnerNames(), strong: md4Blocks };
  const url = workerEntry(import.meta.url, 'job-worker');
  const workers: PoolWorker[] =
    count === 0 || url === undefined
      ? []
      : Array.from({ length: count }, () => ({
          // a small young generation: scavenges come often and free dead buffers early (RSS)
          worker: startWorker(url, { resourceLimits: { maxYoungGenerationSizeMb: 6 } }),
          posted: new Map<number, Pending>(),
        }));
  const queue: Pending[] = [];
  const helpAt = workers.length > 0 ? HELP_AT : 0;
  let helping = false;
  let inline = 0;

  const dispatch = () => {
    for (const w of workers)
      while (queue.length > 0 && w.posted.size < WORKER_DEPTH) {
        const p = queue.shift()!;
        w.posted.set(p.job.id, p);
        w.worker.postMessage(p.job);
      }
    if (queue.length > helpAt && !helping) {
      helping = true;
      // after the I/O callbacks waiting now (workers' results, finished writes): one job, then
      // the event loop again, so results and writes never wait for more than one job
      setImmediate(help);
    }
  };
  const help = () => {
    helping = false;
    if (queue.length <= helpAt) return;
    const p = queue.shift()!;
    inline++;
    try {
      p.resolve(runJob(p.job, ctx));
    } catch (err) {
      p.reject(err as Error);
    }
    dispatch();
  };

  for (const w of workers) {
    w.worker.on('message', (msg: JobResult & { error?: string }) => {
      const p = w.posted.get(msg.id);
      if (!p) return;
      w.posted.delete(msg.id);
      if (msg.error !== undefined) p.reject(new DeaddropError(msg.error));
      else p.resolve(msg);
      dispatch();
    });
    const failAll = (err: Error) => {
      for (const p of [...w.posted.values(), ...queue.splice(0)]) p.reject(err);
      w.posted.clear();
    };
    w.worker.on('error', failAll);
    w.worker.on('exit', (code) => failAll(new DeaddropError(`backup worker exited (${code})`)));
  }
  return {
    workers: workers.length,
    get inline() {
      return inline;
    },
    run(job) {
      return new Promise((resolve, reject) => {
        queue.push({ job, resolve, reject });
        dispatch();
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
