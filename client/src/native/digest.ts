/**
 * Digests fed on libuv's thread pool (client/native/digest.c, built with the client's other
 * addons): the restore's main thread hands each chunk over and goes on, instead of hashing
 * it itself (bench restore: SHA-256 and SHA-1 were 0.86 s of its main thread's 4.8 s). Where
 * the addon is not built, node:crypto hashes on this thread, as before.
 */
import { createHash } from 'node:crypto';
import { Condition } from '@deaddrop/common/condition';
import { loadAddon } from './load-addon.js';

type Handle = { readonly __digest: unique symbol };

interface DigestAddon {
  digest(name: string): Handle;
  /** Copies `data` and queues it; done runs once it is hashed (in order). */
  update(handle: Handle, data: Uint8Array, done: (err?: Error) => void): void;
  final(handle: Handle): Buffer;
}

export type DigestName = 'sha1' | 'sha256' | 'md5';

/** A digest fed chunk by chunk: `update` may ask its caller to wait (a backlog), `digest` waits for the rest. */
export interface ChunkDigest {
  /** Hash `data` (copied at the call where the pool hashes: it may be reused at once); a promise when too many wait. */
  update(data: Uint8Array): Promise<void> | undefined;
  digest(): Promise<string>;
}

/** Chunks handed over and not yet hashed, before update() asks its caller to wait. */
const BACKLOG = 4;

/** The addon, or null where it is not built or DEADDROP_POOL=off: node:crypto hashes on this thread then. */
const addon = () => loadAddon<DigestAddon>('digest', process.env.DEADDROP_POOL === 'off');

/** Hashed on the thread pool, one chunk at a time, in order (the addon queues its copies). */
class PoolDigest implements ChunkDigest {
  private readonly handle: Handle;
  /** Chunks handed over and not yet hashed. */
  private pending = 0;
  private readonly state = new Condition();
  private readonly done = (err?: Error) => {
    this.pending--;
    if (err) this.state.fail(err);
    this.state.notify();
  };

  constructor(
    private readonly native: DigestAddon,
    name: DigestName,
  ) {
    this.handle = native.digest(name);
  }

  update(data: Uint8Array): Promise<void> | undefined {
    if (this.state.failed) throw this.state.failed;
    this.native.update(this.handle, data, this.done);
    this.pending++;
    return this.pending > BACKLOG ? this.state.until(() => this.pending <= BACKLOG) : undefined;
  }

  async digest(): Promise<string> {
    await this.state.until(() => this.pending === 0);
    return this.native.final(this.handle).toString('hex');
  }
}

/** node:crypto on this thread, where the addon is not built. */
function threadDigest(name: DigestName): ChunkDigest {
  const h = createHash(name);
  return {
    update: (data) => void h.update(data),
    digest: () => Promise.resolve(h.digest('hex')),
  };
}

/** The addon is built and loads: digests are taken on the thread pool. */
export const poolDigests = (): boolean => addon() !== null;

export function chunkDigest(name: DigestName): ChunkDigest {
  const native = addon();
  return native ? new PoolDigest(native, name) : threadDigest(name);
}
