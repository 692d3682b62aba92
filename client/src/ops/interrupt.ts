/**
 * SIGINT, SIGTERM and SIGHUP during a backup (Ctrl-C, systemctl stop, shutdown, systemd's
 * TimeoutStartSec): the run is stopped by exiting, but first it reports like any failed run
 * (the caller's `stop`), then the process exits 128 + the signal's number (the shell's
 * convention). A second signal while `stop` runs exits at once.
 */
import { constants } from 'node:os';
import { DeaddropError } from '@deaddrop/common/errors';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export class InterruptedError extends DeaddropError {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`, 128 + constants.signals[signal]);
    this.name = 'InterruptedError';
  }
}

export interface Interruption {
  /** Resolves at once without a signal; never after one (the process is about to exit). */
  settled(): Promise<void>;
  /** Back to the default signal handling. */
  dispose(): void;
}

export function onInterrupt(stop: (err: InterruptedError) => Promise<void>): Interruption {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const err = new InterruptedError(signal);
    if (stopping) process.exit(err.exitCode);
    stopping = true;
    void stop(err)
      .catch(() => {})
      .finally(() => process.exit(err.exitCode));
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return {
    settled: () => (stopping ? new Promise(() => {}) : Promise.resolve()),
    dispose: () => SIGNALS.forEach((s) => process.off(s, onSignal)),
  };
}
