/**
 * Which failures of a sink request are worth another attempt, and the backoff between them.
 * Transient: no HTTP status at all (refused, reset, timed out), 408, 429 and 5xx except 507
 * (the sink's disk is full: retrying only uploads the same bytes again).
 */
import pRetry, { AbortError } from 'p-retry';

export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  /** First pause; each next one is `factor` times longer (with jitter). */
  minTimeoutMs: number;
  maxTimeoutMs: number;
  factor: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, minTimeoutMs: 400, maxTimeoutMs: 5000, factor: 2 };

/** The HTTP status carried by a webdav client error, if any. */
export function statusOf(err: unknown): number | undefined {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === 'number' ? s : undefined;
}

/**
 * The sink answered a PROPFIND with a refusal of the method itself (403, 405, 501: a locked-down
 * nginx without dav-ext's PROPFIND), as opposed to no answer, bad credentials (401) or a fault
 * (5xx). Such a sink still takes PUT: delivery goes on without a listing (backup/deliver.ts).
 */
export function refusesPropfind(err: unknown): boolean {
  const status = answerStatus(err);
  return status === 403 || status === 405 || status === 501;
}

/** The HTTP status a sink answered with, carried by the error or by the one it wraps. */
export function answerStatus(err: unknown): number | undefined {
  return statusOf(err) ?? statusOf((err as { cause?: unknown } | null)?.cause);
}

/** The error an aborted signal stands for. */
export function stopped(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error(String(r));
}

export function isTransient(err: unknown): boolean {
  const status = statusOf(err);
  if (status === undefined) return !(err instanceof PermanentError);
  return status === 408 || status === 429 || (status >= 500 && status !== 507);
}

/** A failure no retry can fix (wrong size on the sink, a refused name). */
export class PermanentError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PermanentError';
  }
}

/**
 * `attempt` until it succeeds, fails for good or runs out of retries. Once `signal` aborts, no
 * further attempt starts (nor a pause): the signal's reason is the error.
 */
export async function withRetries<T>(
  attempt: (n: number) => Promise<T>,
  policy: RetryPolicy,
  onRetry?: (err: unknown, attempt: number) => void,
  signal?: AbortSignal,
): Promise<T> {
  return pRetry(
    async (n) => {
      try {
        signal?.throwIfAborted();
        return await attempt(n);
      } catch (err) {
        if (signal?.aborted) throw new AbortError(stopped(signal));
        // p-retry does not retry TypeErrors; node-fetch's network failures are FetchErrors, but be sure.
        if (!isTransient(err)) throw new AbortError(err instanceof Error ? err : new Error(String(err)));
        throw err instanceof Error ? err : new Error(String(err));
      }
    },
    {
      retries: policy.retries,
      minTimeout: policy.minTimeoutMs,
      maxTimeout: policy.maxTimeoutMs,
      factor: policy.factor,
      randomize: true,
      ...(signal ? { signal } : {}),
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft > 0) onRetry?.(error, attemptNumber);
      },
    },
  );
}
