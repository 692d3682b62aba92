import { isIPv6 } from 'node:net';

/**
 * Failed logins per client address: up to `max` in a window, then 429 until the window ends for
 * every login from it that needs a password check. Every failed login costs a bcrypt comparison
 * (tens of milliseconds of the password check worker, taken in turn by client:
 * password-checks.ts), so an address guessing passwords would otherwise delay other hosts' first
 * logins; nginx's generated config bounds the same with limit_req. Credentials the server has
 * already verified (cached, no bcrypt) still pass from a blocked address (server.ts): a host
 * sharing an address with the guesser keeps uploading. Addresses are counted by loginKey(): an
 * IPv6 client by its /64, which one machine may fill with addresses. (No budget across all
 * addresses: past it a host whose password is not cached yet would be shut out too, by 2
 * guesses a second.)
 */
export class FailedLoginLimit {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly max = 30,
    private readonly windowMs = 60_000,
  ) {}

  /** Whether `address` has used up its failed logins for now. */
  blocked(address: string, now = Date.now()): boolean {
    const f = this.failures.get(loginKey(address));
    return f !== undefined && now - f.since < this.windowMs && f.count >= this.max;
  }

  fail(address: string, now = Date.now()): void {
    const key = loginKey(address);
    const f = this.failures.get(key);
    if (f && now - f.since < this.windowMs) f.count++;
    else {
      if (this.failures.size >= 10_000) this.forgetOld(now);
      this.failures.set(key, { count: 1, since: now });
    }
  }

  private forgetOld(now: number): void {
    for (const [address, f] of this.failures) if (now - f.since >= this.windowMs) this.failures.delete(address);
  }
}

/**
 * The client a failed login is counted against: an IPv4 address as it is, an IPv4-mapped IPv6
 * address (`::ffff:a.b.c.d`, a dual-stack listener's view of IPv4) as that IPv4 address, any
 * other IPv6 address by its /64 (zone dropped), which a single machine commonly has to itself.
 */
export function loginKey(address: string): string {
  const bare = address.split('%')[0]!;
  if (!isIPv6(bare)) return address;
  const g = ipv6Groups(bare);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)
    return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join('.');
  return `${g
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted tail as two groups). */
function ipv6Groups(address: string): number[] {
  let s = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((x) => parseInt(x, 16)));
  const gap = s.indexOf('::');
  if (gap < 0) return parse(s);
  const head = parse(s.slice(0, gap));
  const tail = parse(s.slice(gap + 2));
  return [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}
