/**
 * The set's signature archive: a tar of `signature/`, `snapshot/` and `deleted/` entries ending
 * with the normal end marker padded to 10240 bytes (formats §6), gzip'ed once and written
 * twice: plain into the local cache (what the next incremental reads) and CMS-encrypted into
 * the outgoing set.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createGzip, type Gzip } from 'node:zlib';
import type { Recipient } from '@deaddrop/keys';
import { dataPadding, encodeHeader, type TarHeader } from '../archive/tar-header.js';
import { endOfArchive } from '../archive/tar-writer.js';
import { EncryptedFileWriter, type StoredFile } from './encrypted-file.js';

export class SigtarWriter {
  private readonly gzip: Gzip;
  private readonly local: WriteStream;
  private readonly stored: EncryptedFileWriter;
  private readonly pumping: Promise<void>;
  private failed: Error | undefined;
  private written = 0;

  constructor(localPath: string, storedPath: string, recipients: Recipient[], level = 6) {
    this.gzip = createGzip({ level });
    this.local = createWriteStream(localPath, { flags: 'w' });
    this.stored = new EncryptedFileWriter(storedPath, recipients);
    this.pumping = this.pump();
    this.pumping.catch((err: Error) => (this.failed = err));
    this.local.on('error', (err) => (this.failed = err));
  }

  private async pump(): Promise<void> {
    for await (const chunk of this.gzip as AsyncIterable<Buffer>) {
      if (!this.local.write(chunk)) await once(this.local, 'drain');
      await this.stored.write(chunk);
    }
  }

  private async put(b: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    this.written += b.length;
    if (!this.gzip.write(b)) await Promise.race([once(this.gzip, 'drain'), this.pumping]);
  }

  async add(header: TarHeader, data?: Buffer): Promise<void> {
    await this.put(encodeHeader(header));
    if (data && data.length > 0) {
      await this.put(data);
      const pad = dataPadding(data.length);
      if (pad.length) await this.put(pad);
    }
  }

  /** Whole entries already encoded (by a worker). */
  async addRaw(bytes: Uint8Array): Promise<void> {
    if (bytes.length) await this.put(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  async finish(): Promise<StoredFile> {
    await this.put(endOfArchive(this.written));
    this.gzip.end();
    await this.pumping;
    if (this.failed) throw this.failed;
    this.local.end();
    await once(this.local, 'finish');
    return this.stored.close();
  }

  abort(): void {
    this.gzip.destroy();
    this.local.destroy();
    this.stored.abort();
  }
}
