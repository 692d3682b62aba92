/**
 * Starting our worker threads, from the compiled package or from the TypeScript sources
 * (tests, tsx), and how many to start.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Worker, WorkerOptions } from 'node:worker_threads';

/**
 * node:worker_threads, loaded when the first worker starts: loading it costs ~9 ms, and most
 * `deaddrop rdiff` runs never start one.
 */
function workerClass(): typeof Worker {
  const threads = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
  return threads.Worker;
}

/**
 * The worker entry `name` (without extension) next to the module at `base` (its
 * import.meta.url), or undefined when it is missing (a single-file bundle): callers then run inline.
 */
export function workerEntry(base: string, name: string): URL | undefined {
  const url = new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

/** From the TypeScript sources, a worker registers tsx itself before loading its entry. */
export function startWorker(url: URL, options: WorkerOptions = {}): Worker {
  const Worker = workerClass();
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options);
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(code, { ...options, eval: true });
}

/** DEADDROP_WORKERS, else one per core up to 4 (0 means: run inline). */
export function defaultWorkerCount(): number {
  const env = process.env.DEADDROP_WORKERS;
  if (env !== undefined && /^\d+$/.test(env)) return Number(env);
  return Math.min(4, Math.max(1, availableParallelism()));
}
