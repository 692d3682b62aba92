/**
 * A file of a set as stored: plaintext bytes in, CMS EnvelopedData to the recipients out,
 * written to disk while its SHA-256 (for the sums file) is computed; the plaintext's SHA-1
 * (for the manifest) is computed on the way in. Backpressure flows from the disk.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createEncryptStream } from '@deaddrop/keys/cms/encrypt';
import type { Recipient } from '@deaddrop/keys/recipients';

export interface StoredFile {
  /** Absolute path written. */
  path: string;
  /** Bytes stored (ciphertext). */
  size: number;
  sha256: string;
  /** Plaintext bytes and their SHA-1. */
  plainSize: number;
  plainSha1: string;
}

export class EncryptedFileWriter {
  private readonly encrypt: Transform;
  private readonly out: WriteStream;
  private readonly sha1: Hash = createHash('sha1');
  private readonly sha256: Hash = createHash('sha256');
  private stored = 0;
  private plain = 0;
  private readonly done: Promise<void>;
  private failed: Error | undefined;

  constructor(
    readonly path: string,
    recipients: Recipient[],
  ) {
    this.encrypt = createEncryptStream(recipients);
    this.out = createWriteStream(path, { flags: 'wx', highWaterMark: 1 << 20 });
    const hashing = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.sha256.update(chunk);
        this.stored += chunk.length;
        cb(null, chunk);
      },
    });
    this.done = pipeline(this.encrypt, hashing, this.out);
    this.done.catch((err: Error) => (this.failed = err));
  }

  /** Plaintext bytes written so far. */
  get plainBytes(): number {
    return this.plain;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    this.sha1.update(chunk);
    this.plain += chunk.length;
    if (!this.encrypt.write(chunk)) await Promise.race([once(this.encrypt, 'drain'), this.done]);
    if (this.failed) throw this.failed;
  }

  async close(): Promise<StoredFile> {
    this.encrypt.end();
    await this.done;
    return {
      path: this.path,
      size: this.stored,
      sha256: this.sha256.digest('hex'),
      plainSize: this.plain,
      plainSha1: this.sha1.digest('hex'),
    };
  }

  /** Stop and leave the partial file (the set is unfinished anyway). */
  abort(): void {
    this.encrypt.destroy();
    this.out.destroy();
  }
}
