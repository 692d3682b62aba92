/**
 * SIGINT, SIGTERM and SIGHUP during a backup (Ctrl-C, systemctl stop, shutdown, systemd's
 * TimeoutStartSec). The first one aborts `signal`: the run stops at its next step, records
 * itself as failed and releases its lock, and the process exits 128 + the signal's number (the
 * shell's convention). The run is the only writer of its state, so it never records both an
 * outcome and the interruption. A run that has not stopped `graceMs` later (stuck in I/O) is
 * given up: `giveUp` reports, the process exits. A second signal exits at once.
 */
import { constants } from 'node:os';
import { DeaddropError } from '@deaddrop/common/errors';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const GRACE_MS = 20_000;

export class InterruptedError extends DeaddropError {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`, 128 + constants.signals[signal]);
    this.name = 'InterruptedError';
  }
}

export interface Interruption {
  /** Aborted, with an InterruptedError as its reason, at the first signal. */
  readonly signal: AbortSignal;
  /** Back to the default signal handling. */
  dispose(): void;
}

export function onInterrupt(giveUp: (err: InterruptedError) => Promise<void>, graceMs = GRACE_MS): Interruption {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    const err = new InterruptedError(signal);
    if (controller.signal.aborted) process.exit(err.exitCode);
    controller.abort(err);
    timer = setTimeout(() => {
      void giveUp(err)
        .catch(() => {})
        .finally(() => process.exit(err.exitCode));
    }, graceMs);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      SIGNALS.forEach((s) => process.off(s, onSignal));
    },
  };
}

/** `p`, or the signal's reason as soon as it aborts (`p` goes on, unheeded, until the process exits). */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      p.catch(() => {});
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
