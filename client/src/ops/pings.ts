/**
 * healthchecks.io-style pings: GET the start URL, POST a short summary to the success or fail
 * URL. A ping that does not get through is a warning, never a failed backup. The URLs carry
 * the check's secret (its UUID or token), so log lines name only the kind of ping and the host.
 */
import type { Logger } from '@deaddrop/common/log';

export type PingKind = 'start' | 'success' | 'fail';

export interface PingOptions {
  log: Logger;
  /** Per attempt. */
  timeoutMs?: number;
  /** Attempts after the first. */
  retries?: number;
  /** Wait before retry n is n times this. */
  backoffMs?: number;
}

function where(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an invalid URL';
  }
}

/** Text with every URL in it cut down to its host: the rest may be a secret. */
function withoutUrls(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]*/gi, (u) => where(u));
}

/** Worth another try: the network, a timeout, the server's own trouble or rate limit. */
const retryable = (status: number) => status >= 500 || status === 408 || status === 429;

/** True when the ping was answered with 2xx. */
export async function ping(url: string, kind: PingKind, body: string | undefined, opts: PingOptions): Promise<boolean> {
  const retries = opts.retries ?? 2;
  let problem = '';
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, attempt * (opts.backoffMs ?? 1000)));
    try {
      const res = await fetch(url, {
        method: body === undefined ? 'GET' : 'POST',
        ...(body === undefined ? {} : { body, headers: { 'content-type': 'text/plain; charset=utf-8' } }),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
      await res.arrayBuffer().catch(() => undefined); // let the connection go back to the pool
      if (res.ok) {
        opts.log.debug(`${kind} ping to ${where(url)}: ${res.status}`);
        return true;
      }
      problem = `HTTP ${res.status}`;
      if (!retryable(res.status)) break;
    } catch (err) {
      // fetch errors hide the reason in .cause (a network error's code); others say it in
      // their message, which may quote the URL
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      problem = cause?.code ?? withoutUrls(cause?.message ?? (err as Error).message ?? String(err));
    }
  }
  opts.log.warn(`${kind} ping to ${where(url)} failed: ${problem}`, { ping: kind });
  return false;
}
