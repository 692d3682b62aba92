/**
 * The set's manifest, built during the run: the head, a block per finished volume, then the
 * Filelist. Filelist lines go to a temp file as entries are written (a million changed files
 * must not sit in memory); the manifest is assembled from the pieces at the end.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatManifestHead, formatVolume, type FileChange, type ManifestVolume } from '../format/manifest.js';
import { quote } from '../format/quote.js';
import { naming } from '@deaddrop/common/errors';
import { indexToBytes, type PathIndex } from '../scan/path-index.js';

export class ManifestWriter {
  private readonly volumes: Buffer[] = [];
  private readonly filelist: WriteStream;
  private files = 0;
  /** The Filelist's write failed (a full disk): said at the next addFile() or writeTo(). */
  private failed: Error | undefined;

  constructor(
    private readonly head: { hostname: string; localdir: Buffer },
    private readonly filelistPath: string,
  ) {
    this.filelist = createWriteStream(filelistPath);
    this.filelist.on('error', (err) => (this.failed ??= naming(filelistPath, err) as Error));
  }

  addVolume(v: ManifestVolume): void {
    this.volumes.push(formatVolume(v));
  }

  async addFile(change: FileChange, path: PathIndex): Promise<void> {
    if (this.failed) throw this.failed;
    this.files++;
    const line = Buffer.concat([
      Buffer.from(`    ${change.padEnd(7)}  `),
      quote(indexToBytes(path)),
      Buffer.from('\n'),
    ]);
    if (!this.filelist.write(line)) await once(this.filelist, 'drain');
  }

  /** Write the finished manifest to `path` (each piece streamed; the Filelist temp file removed). */
  async writeTo(path: string): Promise<void> {
    if (this.failed) throw this.failed;
    this.filelist.end();
    await once(this.filelist, 'finish');
    const filelistPath = this.filelistPath;
    const head = formatManifestHead(this.head);
    const volumes = this.volumes;
    const files = this.files;
    async function* pieces() {
      yield head;
      for (const v of volumes) yield v;
      yield Buffer.from(`Filelist ${files}\n`);
      for await (const chunk of createReadStream(filelistPath)) yield chunk as Buffer;
    }
    try {
      await pipeline(Readable.from(pieces()), createWriteStream(path));
    } catch (err) {
      throw naming((err as NodeJS.ErrnoException).syscall === 'read' ? filelistPath : path, err);
    }
    await rm(filelistPath, { force: true });
  }

  /** Stop writing the Filelist (the set is abandoned); its temp file is the caller's to remove. */
  abort(): void {
    this.filelist.destroy();
  }
}
