/**
 * bcrypt comparisons off the event loop, taken in turn by client. Each costs tens of
 * milliseconds of CPU (cost 10); on the server's own thread a stream of wrong passwords from
 * many addresses (the failed-login limit counts each address apart) left it no time for the
 * uploads it serves. Here one worker thread does them: the server's thread only queues, and the
 * next comparison is the one of the waiting client whose last turn is oldest, so a flood from
 * one client delays another's first login by one comparison per flooding client, not by the
 * whole flood. A client may have a few comparisons waiting or running; past that its requests
 * are refused at once (BusyError). Without a worker file (a single-file bundle) they run here.
 */
import { DeaddropError } from '@deaddrop/common/errors';
import { startWorker, workerEntry } from '@deaddrop/common/start-worker';
import bcrypt from 'bcryptjs';
import type { Worker } from 'node:worker_threads';

/** A client has too many comparisons waiting. */
export class BusyError extends DeaddropError {}

interface Check {
  id: number;
  password: string;
  hash: string;
  resolve: (ok: boolean) => void;
  reject: (err: Error) => void;
}

export class PasswordChecks {
  /** Waiting comparisons by client. */
  private readonly waiting = new Map<string, Check[]>();
  /** When each waiting client last had a turn (a count of turns; a newcomer has had none). */
  private readonly lastTurn = new Map<string, number>();
  private turns = 0;
  private running: (Check & { client: string }) | undefined;
  private worker: Worker | undefined;
  private nextId = 0;

  /** `perClient`: comparisons one client may have waiting or running. */
  constructor(private readonly perClient = 4) {}

  /** Whether `password` matches the bcrypt `hash`, in `client`'s turn. */
  compare(password: string, hash: string, client: string): Promise<boolean> {
    const url = workerEntry(import.meta.url, 'password-worker');
    if (!url) return bcrypt.compare(password, hash).catch(() => false);
    const queue = this.waiting.get(client) ?? [];
    const pending = queue.length + (this.running?.client === client ? 1 : 0);
    if (pending >= this.perClient)
      return Promise.reject(new BusyError(`${pending} logins from this address are being checked`));
    return new Promise((resolve, reject) => {
      queue.push({ id: this.nextId++, password, hash, resolve, reject });
      this.waiting.set(client, queue);
      this.next(url);
    });
  }

  /** Stop the worker; waiting comparisons fail. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new DeaddropError('the server is shutting down'));
    await worker?.terminate();
  }

  private next(url: URL): void {
    if (this.running) return;
    const client = this.leastRecentlyServed();
    if (client === undefined) {
      this.worker?.unref(); // idle: it must not keep the process alive
      return;
    }
    const queue = this.waiting.get(client)!;
    const check = queue.shift()!;
    if (queue.length === 0) this.waiting.delete(client);
    this.lastTurn.set(client, this.turns++);
    for (const c of this.lastTurn.keys()) if (c !== client && !this.waiting.has(c)) this.lastTurn.delete(c);
    this.running = { ...check, client };
    const worker = this.workerFor(url);
    worker.ref(); // a check in flight keeps the process alive until it is answered
    worker.postMessage({ id: check.id, password: check.password, hash: check.hash });
  }

  /** The waiting client whose last turn is oldest (never: first), or undefined. */
  private leastRecentlyServed(): string | undefined {
    let best: string | undefined;
    let bestTurn = Infinity;
    for (const client of this.waiting.keys()) {
      const turn = this.lastTurn.get(client) ?? -1;
      if (turn < bestTurn) [best, bestTurn] = [client, turn];
    }
    return best;
  }

  private workerFor(url: URL): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker(url, { resourceLimits: { maxYoungGenerationSizeMb: 2 } });
    worker.on('message', (m: { id: number; ok: boolean }) => {
      const check = this.running;
      if (!check || check.id !== m.id) return;
      this.running = undefined;
      check.resolve(m.ok);
      this.next(url);
    });
    const fail = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(err);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new DeaddropError(`password check worker exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  private failAll(err: Error): void {
    const checks = [...(this.running ? [this.running] : []), ...[...this.waiting.values()].flat()];
    this.running = undefined;
    this.waiting.clear();
    for (const c of checks) c.reject(err);
  }
}
