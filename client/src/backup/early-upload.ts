/**
 * Volumes go to the sinks while the rest of their set is still being written, so on a real
 * network the upload overlaps compression and encryption instead of following them. This is
 * only a head start: the delivery pass after the set is complete lists every sink and sends
 * what is missing there.
 *
 * Taking part (the caller's choice, run.ts): sinks that lack no earlier set (each sink still
 * gets an incremental's chain in order, and a sink that was down at the last run is left to
 * delivery), and for a full, which needs no earlier set, every sink. A put here has the
 * target's full retry treatment, so a sink that fails here is done for this run, as it would
 * be in delivery: delivery reports it and the set waits in the spool for the next run (a 507
 * is not sent twice). Each sink has its own queue, files one at a time in volume order, each
 * read from the spool for that sink: a sink that hangs (up to its timeouts) or fails holds back
 * only itself, never the next file to a healthy sink, nor delivery to it (which waits for that
 * sink's queue only).
 *
 * When the sinks taking part are all the host's sinks, a file every one of them took leaves the
 * spool there and then (sent-everywhere.ts), and the set writer waits (room()) while even the
 * fastest sink still up has MAX_AHEAD volumes to take: with sinks slower than the writer (a home
 * uplink) the set is not piled up on local disk whole. Paced by the fastest, not the slowest:
 * a sink that hangs holds back only itself, never the writer. What a failed sink lacks stays
 * spooled for it, up to the spool's limit: once the set has grown past `spoolLimit` it could
 * never be kept for that sink anyway (the spool drops sets over its limit), so the set is given
 * up for it (givenUp: delivery records the drop) and what the sinks still up took leaves too.
 * A sink that is down then costs the host no more local disk than a healthy one.
 *
 * A run that ends early (an error, an interruption) calls stop(): what is queued is not sent,
 * the PUTs under way are aborted, and it returns once none is left, so no upload outlives the
 * run (and its lock).
 */
import { dirname } from 'node:path';
import { DeaddropError } from '@deaddrop/common/errors';
import type { SinkTargetLike } from '../transport/file-target.js';
import type { UploadMeter } from '../ops/upload-progress.js';
import { uploadFile } from '../transport/upload-file.js';
import { sharedFileProgress, type SharedFileProgress } from './delivery-progress.js';
import { leaveSpool } from './sent-everywhere.js';

/**
 * Complete volumes the fastest sink has still to take before the writer waits: one being sent,
 * one next, and the writer's own volume under way make three on disk when the sinks keep pace.
 */
export const MAX_AHEAD = 2;

/** What the sinks took ahead of delivery, and which failed (delivery leaves those for this run). */
export interface SentAhead {
  /** Sink name → stored name → size. */
  sent: Map<string, Map<string, number>>;
  /** Sink name → the error that ended its uploads. */
  failed: Map<string, unknown>;
  /** Resolves when this sink's queue has ended (at once for a sink without one; never rejects). */
  ended(sink: string): Promise<void>;
  /** Failed sinks the set was given up for: it grew past the spool's limit (see above). */
  givenUp: ReadonlySet<string>;
}

interface QueuedFile {
  path: string;
  name: string;
  size: number;
  /** Sinks that took it. */
  takers: Set<string>;
}

export class EarlyUpload implements SentAhead {
  /** Sink name → its queue: a slow or dead sink holds back only its own files. */
  private readonly queues = new Map<string, Promise<void>>();
  readonly failed = new Map<string, unknown>();
  readonly sent = new Map<string, Map<string, number>>();
  private readonly stopping = new AbortController();
  readonly givenUp = new Set<string>();
  /** Files added that have not left the spool. */
  private readonly spooled: QueuedFile[] = [];
  /** Bytes of the files added: the set's size so far. */
  private added = 0;
  /** Files leaving the spool, in turn. */
  private leaving: Promise<void> = Promise.resolve();
  /** Sink name → files queued for it that its queue is not past yet (taken, failed or stopped). */
  private readonly outstanding = new Map<string, number>();
  /** The writer waiting in room(), if it is. */
  private wake: (() => void) | undefined;

  private readonly progress: SharedFileProgress;

  /**
   * `spool`: given when the targets are all the host's sinks, so what they took may leave the
   * spool; `spoolLimit` as in client.json.
   */
  constructor(
    private readonly targets: SinkTargetLike[],
    meter?: UploadMeter,
    private readonly spool?: { spoolLimit: number },
  ) {
    this.progress = sharedFileProgress(meter);
    for (const t of targets) {
      this.sent.set(t.name, new Map());
      this.queues.set(t.name, Promise.resolve());
    }
  }

  /** Queue a complete stored file (local `path`, stored as `name`) behind each sink's earlier ones. */
  add(path: string, name: string, size: number): void {
    if (this.targets.length === 0) return;
    const file: QueuedFile = { path, name, size, takers: new Set() };
    this.spooled.push(file);
    this.added += size;
    for (const t of this.targets) {
      this.outstanding.set(t.name, (this.outstanding.get(t.name) ?? 0) + 1);
      const counted = this.progress.file(name, size); // every sink's reader now: it ends with the last
      const queued = this.queues.get(t.name)!;
      this.queues.set(
        t.name,
        queued
          .then(() => this.put(t, file, counted.read))
          .then(counted.ended)
          .finally(() => this.passed(t.name)),
      );
    }
    this.leaveWhatCan(); // (the set may just have grown past the limit)
  }

  /** Resolves once some sink still up has fewer than `max` files to take (at once when stopped). */
  async room(max = MAX_AHEAD): Promise<void> {
    const fastest = () => Math.min(...this.live().map((t) => this.outstanding.get(t.name)!));
    while (this.live().length > 0 && fastest() >= max && !this.stopping.signal.aborted)
      await new Promise<void>((r) => (this.wake = r));
  }

  private live(): SinkTargetLike[] {
    return this.targets.filter((t) => !this.failed.has(t.name));
  }

  private passed(sink: string): void {
    this.outstanding.set(sink, this.outstanding.get(sink)! - 1);
    this.wake?.();
  }

  /**
   * Files every sink took leave the spool, a failed sink counting only while the set is within
   * the spool's limit (what it took before it failed counts too). Never with no sink up.
   */
  private leaveWhatCan(): void {
    if (!this.spool || this.live().length === 0) return;
    if (this.failed.size > 0 && this.added > this.spool.spoolLimit)
      for (const sink of this.failed.keys()) this.givenUp.add(sink);
    const waiting = this.targets.filter((t) => !this.givenUp.has(t.name));
    for (let i = 0; i < this.spooled.length;) {
      const f = this.spooled[i]!;
      if (!waiting.every((t) => f.takers.has(t.name))) {
        i++;
        continue;
      }
      this.spooled.splice(i, 1);
      // (if this fails, a full disk say, the file only stays spooled)
      this.leaving = this.leaving.then(() => leaveSpool(dirname(f.path), f.name, f.size).catch(() => {}));
    }
  }

  /** Resolves when every queued upload has ended (never rejects: failures are left to delivery). */
  async settled(): Promise<void> {
    await Promise.all(this.queues.values());
    await this.leaving;
  }

  /** Sends nothing more, aborts the uploads under way; resolves once none is left (never rejects). */
  async stop(): Promise<void> {
    if (!this.stopping.signal.aborted) this.stopping.abort(new DeaddropError('the run ended before this upload'));
    this.wake?.();
    await this.settled();
  }

  /** Delivery to a sink waits for its own queue only: a hung sink holds back no other. */
  async ended(sink: string): Promise<void> {
    await this.queues.get(sink);
  }

  /** One file to one sink, unless the sink already failed this run (then it is left to delivery). */
  private async put(target: SinkTargetLike, file: QueuedFile, onRead: (bytes: number) => void): Promise<void> {
    if (this.failed.has(target.name) || this.stopping.signal.aborted) return;
    const { path, name, size } = file;
    const outcome = await uploadFile(path, name, size, target, onRead, this.stopping.signal);
    if (outcome.ok) {
      // 'exists' too: the set's names are new on every sink (set-time.ts), so a name there now
      // was published by our own attempt whose answer was lost.
      this.sent.get(target.name)!.set(name, size);
      file.takers.add(target.name);
    } else this.failed.set(target.name, outcome.error);
    this.leaveWhatCan();
  }
}
