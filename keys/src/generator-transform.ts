import { Transform, type TransformCallback } from 'node:stream';

/**
 * A Transform driven by a pull-style async generator: the generator iterates the written chunks
 * and yields output. A written chunk is acknowledged only when the generator asks for the next
 * one, and Transform holds acknowledgements while its readable side is full, so backpressure
 * reaches the writer and at most one input chunk's output is in flight.
 */
export function transformFromGenerator(body: (source: AsyncIterable<Buffer>) => AsyncIterable<Buffer>): Transform {
  return new GeneratorTransform(body);
}

class GeneratorTransform extends Transform {
  /** The chunk the generator hasn't taken yet, with the callback that acknowledges it. */
  private offered: { chunk: Buffer; done: TransformCallback } | null = null;
  /** The generator waiting for input. */
  private waiting: ((value: IteratorResult<Buffer>) => void) | null = null;
  /** Acknowledges the chunk the generator is working on. */
  private inProgress: TransformCallback | null = null;
  private inputEnded = false;
  private finished: Promise<void>;
  private failure: Error | null = null;
  /** The generator returned: later input is acknowledged and dropped. */
  private bodyDone = false;

  constructor(body: (source: AsyncIterable<Buffer>) => AsyncIterable<Buffer>) {
    super();
    const source: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next: () => this.nextInput() }) };
    this.finished = (async () => {
      for await (const out of body(source)) if (out.length > 0) this.push(out);
      this.bodyDone = true;
      const pending = [this.inProgress, this.offered?.done];
      this.inProgress = null;
      this.offered = null;
      for (const ack of pending) ack?.();
    })().catch((err: Error) => {
      this.failure = err;
      const pending = this.inProgress ?? this.offered?.done;
      this.inProgress = null;
      this.offered = null;
      if (pending) pending(err);
      else if (!this.inputEnded) this.destroy(err);
    });
  }

  private nextInput(): Promise<IteratorResult<Buffer>> {
    // the previous chunk is fully processed: acknowledge it so the writer may send more
    const ack = this.inProgress;
    this.inProgress = null;
    if (ack) ack();
    if (this.offered) {
      const { chunk, done } = this.offered;
      this.offered = null;
      this.inProgress = done;
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.inputEnded) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.failure) return callback(this.failure);
    if (this.bodyDone) return callback();
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = null;
      this.inProgress = callback;
      waiting({ value: chunk, done: false });
    } else this.offered = { chunk, done: callback };
  }

  override _flush(callback: TransformCallback): void {
    this.inputEnded = true;
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting) waiting({ value: undefined, done: true });
    this.finished.then(() => callback(this.failure ?? undefined));
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // unblock a generator waiting for input so it can finish
    this.inputEnded = true;
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting) waiting({ value: undefined, done: true });
    callback(err);
  }
}
