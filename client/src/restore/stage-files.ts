/**
 * Small restored files made on libuv's thread pool (client/native/stage.c): created, written,
 * given their owner, mode and mtime, closed, while the main thread goes on decrypting,
 * inflating and parsing. Creating 20,000 files was a quarter of the bench restore's main
 * thread. The data is copied at the call, the files go to the pool in batches; at most
 * MAX_BATCHES wait or are being made at once. Where the addon is not built, apply.ts makes
 * them itself.
 */
import { Condition } from '@deaddrop/common/condition';
import { stageAddon, type StageAddon, type StageBatch } from '../native/stage.js';
import type { Attributes } from './metadata.js';

/** A batch goes to the pool at this many files or bytes: one job per file cost the main thread half of what it saved. */
const BATCH_FILES = 32;
const BATCH_BYTES = 256 * 1024;
/** Batches queued or being made, before stage() asks its caller to wait. */
const MAX_BATCHES = 8;

export class FileStager {
  private readonly batch: StageBatch;
  private batchBytes = 0;
  private batchFiles = 0;
  private batches = 0;
  private readonly state = new Condition();

  private constructor(private readonly native: StageAddon) {
    this.batch = native.batch();
  }

  /** A stager, or undefined where the addon is not built. */
  static create(): FileStager | undefined {
    const native = stageAddon();
    return native ? new FileStager(native) : undefined;
  }

  /**
   * Make the file at `path` (which must not exist) holding `data`, or, `hole`, `size` zero
   * bytes without writing them. A promise when the caller must wait for room.
   */
  stage(path: string, data: Uint8Array, hole: boolean, size: number, a: Attributes): Promise<void> | undefined {
    if (this.state.failed) throw this.state.failed;
    // a time before 1970 is taken as now, as node:fs's futimes takes it (apply.ts's own files)
    const mtime = a.mtime < 0 ? Date.now() / 1000 : a.mtime;
    const body = hole ? EMPTY : data;
    const [uid, gid] = [ownerId('uid', a.uid), ownerId('gid', a.gid)];
    this.batchFiles = this.native.add(this.batch, path, body, hole, size, a.mode, uid, gid, mtime);
    this.batchBytes += body.length;
    if (this.batchFiles < BATCH_FILES && this.batchBytes < BATCH_BYTES) return undefined;
    this.submit();
    return this.batches > MAX_BATCHES ? this.state.until(() => this.batches <= MAX_BATCHES) : undefined;
  }

  /** Every file made; throws the first error of any. */
  async idle(): Promise<void> {
    this.submit();
    await this.state.until(() => this.batches === 0);
  }

  /** Failure elsewhere: wait for the files under way (their directory is about to go), errors ignored. */
  async abandon(): Promise<void> {
    await this.state.settled(() => this.batches === 0);
  }

  private submit(): void {
    if (this.batchFiles === 0) return;
    this.batchFiles = this.batchBytes = 0;
    this.batches++;
    this.native.submit(this.batch, (err) => {
      this.batches--;
      if (err) this.state.fail(err);
      else this.state.notify();
    });
  }
}

const EMPTY = new Uint8Array(0);

/**
 * An owner id as fchown(2) takes it, -1 leaving it as it is (undefined: not restoring owners);
 * one out of range (a crafted archive's) is refused as node:fs refuses it, never cast (2^32 is root).
 */
function ownerId(name: 'uid' | 'gid', id: number | undefined): number {
  if (id === undefined) return -1;
  if (Number.isInteger(id) && id >= -1 && id <= 0xffffffff) return id;
  const err = new RangeError(
    `The value of "${name}" is out of range. It must be >= -1 && <= 4294967295. Received ${id}`,
  );
  throw Object.assign(err, { code: 'ERR_OUT_OF_RANGE' });
}
