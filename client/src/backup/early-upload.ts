/**
 * Volumes go to the sinks while the rest of their set is still being written, so on a real
 * network the upload overlaps compression and encryption instead of following them. This is
 * only a head start: the delivery pass after the set is complete lists every sink and sends
 * what is missing there.
 *
 * Taking part: sinks that lack no earlier set (each sink still gets its sets in order, and a
 * sink that was down at the last run is left to delivery). A put here has the target's full
 * retry treatment, so a sink that fails here is done for this run, as it would be in
 * delivery: delivery reports it and the set waits in the spool for the next run (a 507 is not
 * sent twice). Files go one at a time, in volume order.
 */
import type { SinkTargetLike } from '../transport/file-target.js';
import type { QueuedUpload, UploadMeter } from '../ops/upload-progress.js';
import { putMirrored } from '../transport/mirror.js';

/** What the sinks took ahead of delivery, and which failed (delivery leaves those for this run). */
export interface SentAhead {
  /** Sink name → stored name → size. */
  sent: Map<string, Map<string, number>>;
  /** Sink name → the error that ended its uploads. */
  failed: Map<string, unknown>;
}

export class EarlyUpload implements SentAhead {
  private queue: Promise<void> = Promise.resolve();
  readonly failed = new Map<string, unknown>();
  readonly sent = new Map<string, Map<string, number>>();

  constructor(
    private readonly targets: SinkTargetLike[],
    private readonly meter?: UploadMeter,
  ) {
    for (const t of targets) this.sent.set(t.name, new Map());
  }

  /** Queue a complete stored file (local `path`, stored as `name`). */
  add(path: string, name: string, size: number): void {
    if (this.targets.length === 0) return;
    const counted = this.meter?.queue(size);
    this.queue = this.queue.then(() => this.put(path, name, size, counted));
  }

  /** Resolves when every queued upload has ended (never rejects: failures are left to delivery). */
  settled(): Promise<void> {
    return this.queue;
  }

  private async put(path: string, name: string, size: number, counted?: QueuedUpload): Promise<void> {
    const to = this.targets.filter((t) => !this.failed.has(t.name));
    const outcomes =
      to.length === 0
        ? []
        : await putMirrored(path, name, size, to, counted?.read).catch((error: unknown) =>
            to.map(() => ({ ok: false as const, error })),
          );
    counted?.ended();
    outcomes.forEach((o, i) => {
      const t = to[i]!;
      if (o.ok) {
        // 'exists' too: the set's names are new on every sink (set-time.ts), so a name there now
        // was published by our own attempt whose answer was lost.
        this.sent.get(t.name)!.set(name, size);
        return;
      }
      this.failed.set(t.name, o.error);
    });
  }
}
