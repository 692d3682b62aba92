/**
 * Failed logins per client address: up to `max` in a window, then 429 until the window ends.
 * Every failed login costs a bcrypt comparison (tens of milliseconds of this one thread), so an
 * address guessing passwords would otherwise slow every host's uploads; nginx's generated
 * config bounds the same with limit_req.
 */
export class FailedLoginLimit {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly max = 30,
    private readonly windowMs = 60_000,
  ) {}

  /** Whether `address` has used up its failed logins for now. */
  blocked(address: string, now = Date.now()): boolean {
    const f = this.failures.get(address);
    return f !== undefined && now - f.since < this.windowMs && f.count >= this.max;
  }

  fail(address: string, now = Date.now()): void {
    const f = this.failures.get(address);
    if (f && now - f.since < this.windowMs) f.count++;
    else {
      if (this.failures.size >= 10_000) this.forgetOld(now);
      this.failures.set(address, { count: 1, since: now });
    }
  }

  private forgetOld(now: number): void {
    for (const [address, f] of this.failures) if (now - f.since >= this.windowMs) this.failures.delete(address);
  }
}
