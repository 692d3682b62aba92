/**
 * The set's signature archive: a tar of `signature/`, `snapshot/` and `deleted/` entries ending
 * with the normal end marker padded to 10240 bytes (formats §6), gzip'ed once, in members of
 * 1 MiB of tar built on this thread, and written twice: plain into the local cache (what the
 * next incremental reads) and CMS-encrypted into the outgoing set.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Recipient } from '@deaddrop/keys';
import { naming } from '@deaddrop/common/errors';
import { dataPadding, encodeHeader, type TarHeader } from '../archive/tar-header.js';
import { endOfArchive } from '../archive/tar-writer.js';
import { EncryptedFileWriter, type StoredFile } from './encrypted-file.js';
import { gzipMember } from './gzip-member.js';

/** Tar bytes per gzip member. */
const MEMBER_TAR = 1 << 20;
/**
 * igzip's 2 where the addon is built (gzip-member.ts): a signature archive is mostly MD4 sums,
 * which do not compress. The bench's full set: 29.4 MB of tar to 11.43 MB in 33 ms, against
 * 11.35 MB in 426 ms at zlib's 6 (duplicity's level, this writer's until then).
 */
export const SIGTAR_LEVEL = 2;

export class SigtarWriter {
  private readonly local: WriteStream;
  private readonly stored: EncryptedFileWriter;
  /** The member being filled (its own memory, never a pool slab: it lives as long as the writer). */
  private readonly tar = Buffer.allocUnsafeSlow(MEMBER_TAR);
  private filled = 0;
  private failed: Error | undefined;
  private written = 0;

  constructor(
    localPath: string,
    storedPath: string,
    recipients: Recipient[],
    private readonly level = SIGTAR_LEVEL,
  ) {
    this.local = createWriteStream(localPath, { flags: 'w' });
    this.stored = new EncryptedFileWriter(storedPath, recipients);
    this.local.on('error', (err) => (this.failed ??= naming(localPath, err) as Error));
  }

  private async put(b: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    this.written += b.length;
    for (let at = 0; at < b.length;) {
      const n = b.copy(this.tar, this.filled, at);
      this.filled += n;
      at += n;
      if (this.filled === MEMBER_TAR) await this.flush();
    }
  }

  /** The tar bytes so far as one gzip member, to the cache and, encrypted, to the set. */
  private async flush(): Promise<void> {
    if (this.filled === 0) return;
    const member = gzipMember(this.tar.subarray(0, this.filled), this.level);
    this.filled = 0;
    if (!this.local.write(member)) await once(this.local, 'drain');
    await this.stored.write(member);
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
    await this.flush();
    if (this.failed) throw this.failed;
    this.local.end();
    await once(this.local, 'finish');
    return this.stored.close();
  }

  abort(): void {
    this.local.destroy();
    this.stored.abort();
  }
}
