/**
 * A file of a set as stored: plaintext bytes in, CMS EnvelopedData to the recipients out,
 * written to disk while its SHA-256 (for the sums file) is computed; the plaintext's SHA-1
 * (for the manifest) is computed on the way in. Each write encrypts its chunk at once and keeps
 * nothing of it (the caller may reuse or release it when write() returns); one ciphertext
 * write is in flight behind the encryption of the next chunk, so backpressure is the disk's.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { CmsEncryptor } from '@deaddrop/keys/cms/encrypt';
import type { Recipient } from '@deaddrop/keys/recipients';
import { release } from '@deaddrop/common/young-gc';
import { naming } from '@deaddrop/common/errors';

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
  private readonly encryptor: CmsEncryptor;
  private readonly file: Promise<FileHandle>;
  private readonly sha1: Hash = createHash('sha1');
  private readonly sha256: Hash = createHash('sha256');
  private stored = 0;
  private plain = 0;
  /** The ciphertext write under way, if any. */
  private writing: Promise<void> = Promise.resolve();
  private failed: Error | undefined;
  /** The file's close, once close() or abort() asked for it. */
  private closing: Promise<void> | undefined;

  constructor(
    readonly path: string,
    recipients: Recipient[],
  ) {
    this.encryptor = new CmsEncryptor(recipients);
    this.file = open(path, 'wx');
    this.file.catch((err: Error) => (this.failed ??= err));
  }

  /** Plaintext bytes written so far. */
  get plainBytes(): number {
    return this.plain;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.mustBeOpen();
    if (this.failed) throw this.failed;
    this.sha1.update(chunk);
    this.plain += chunk.length;
    await this.put(this.encryptor.update(chunk));
  }

  async close(): Promise<StoredFile> {
    this.mustBeOpen();
    try {
      if (this.failed) throw this.failed;
      await this.put(this.encryptor.final());
      await this.writing;
    } finally {
      this.abort(); // the file is closed whatever happened, once its last write is done
      await this.closing;
    }
    if (this.failed) throw this.failed;
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
    this.closing ??= this.writing
      .then(() => this.file)
      .then((fh) => fh.close())
      .catch((err: Error) => {
        this.failed ??= naming(this.path, err) as Error;
      });
  }

  private mustBeOpen(): void {
    if (this.closing) throw new Error(`${this.path}: already closed or aborted`);
  }

  /** Hash `ciphertext` and write it once the previous write is done; returns when it started. */
  private async put(ciphertext: Buffer): Promise<void> {
    if (ciphertext.length === 0) return;
    this.sha256.update(ciphertext);
    this.stored += ciphertext.length;
    await this.writing;
    if (this.failed) throw this.failed;
    const fh = await this.file;
    this.writing = writeAll(fh, ciphertext).then(
      () => release(ciphertext),
      (err: Error) => {
        this.failed ??= naming(this.path, err) as Error;
      },
    );
  }
}

async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length;) at += (await fh.write(data, at)).bytesWritten;
}
