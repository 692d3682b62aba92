/**
 * Waiting for a state that callbacks change (work done on the thread pool, say): `until(done)`
 * resolves once `done()` holds, looking again at each `notify()`, and throws the first failure
 * recorded meanwhile.
 */
export class Condition {
  private waiters: (() => void)[] = [];
  failed: Error | undefined;

  /** Record a failure (the first one stays) and wake the waiters. */
  fail(err: Error): void {
    this.failed ??= err;
    this.notify();
  }

  /** Something changed: the waiters look again. */
  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const wake of w) wake();
  }

  /** Till `done()` holds; throws the first failure, at once if there is one. */
  async until(done: () => boolean): Promise<void> {
    while (!done() && !this.failed) await this.next();
    if (this.failed) throw this.failed;
  }

  /** Till `done()` holds, failure or not. */
  async settled(done: () => boolean): Promise<void> {
    while (!done()) await this.next();
  }

  private next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
