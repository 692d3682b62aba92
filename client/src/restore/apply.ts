/**
 * Apply volume entries, set after set, to the destination tree (formats §5.8, set by set
 * instead of merged: the full set lays the tree down, each incremental then patches it).
 * New content goes to a staging directory first; what a volume completed is moved into place
 * only when that volume has passed its hash checks (`commit`), so a tampered or truncated
 * volume leaves nothing of itself behind. Directory attributes are set last, deepest first.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdir, open, rename, rm, symlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DeaddropError } from '@deaddrop/common/errors';
import { TarType, type RawHeader } from '../archive/tar-header.js';
import { indexToDisplay, type PathIndex } from '../scan/path-index.js';
import { DeltaSink } from './delta-sink.js';
import type { DestTree } from './dest-tree.js';
import type { VolumeEntry } from './entries.js';
import { setHandleAttributes, setPathAttributes, type Owners } from './metadata.js';

export interface ApplyStats {
  files: number;
  dirs: number;
  links: number;
  special: number;
  deleted: number;
  bytes: number;
}

/** A file being written from one entry or several multivol chunks. */
interface OpenFile {
  kind: 'snapshot' | 'diff';
  index: PathIndex;
  header: RawHeader;
  temp: string;
  fh?: FileHandle;
  basis?: FileHandle;
  delta?: DeltaSink;
}

type Op = () => Promise<void>;

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new DeaddropError(`${cmd}: ${err.trim()}`))));
  });
}

export class TreeApplier {
  readonly stats: ApplyStats = { files: 0, dirs: 0, links: 0, special: 0, deleted: 0, bytes: 0 };
  readonly warnings: string[] = [];
  private open: OpenFile | undefined;
  private ops: Op[] = [];
  private dirs = new Map<string, { index: PathIndex; header: RawHeader }>();
  private seq = 0;

  constructor(
    private readonly dest: DestTree,
    private readonly staging: string,
    private readonly owners: Owners | undefined,
  ) {}

  private temp(): string {
    return join(this.staging, String(++this.seq));
  }

  async add(e: VolumeEntry, what: string): Promise<void> {
    const o = this.open;
    if (o && e.multivol && e.kind === o.kind && sameIndex(e.index, o.index)) return this.append(o, await e.read());
    if (o) await this.close(o);
    if (e.kind === 'deleted') {
      this.ops.push(async () => {
        await this.dest.remove(e.index);
        this.stats.deleted++;
      });
      return;
    }
    if (e.kind === 'diff') return this.startDiff(e, what);
    const h = e.header;
    switch (h.type) {
      case TarType.FILE:
      case '\0':
      case '7': {
        const file: OpenFile = { kind: 'snapshot', index: e.index, header: h, temp: this.temp() };
        file.fh = await open(file.temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
        this.open = file;
        await this.append(file, await e.read());
        if (!e.multivol) await this.close(file);
        return;
      }
      case TarType.DIR:
        this.dirs.set(this.dest.pathOf(e.index).toString('latin1'), { index: e.index, header: h });
        this.ops.push(() => this.makeDir(e.index));
        return;
      case TarType.SYMLINK: {
        const temp = this.temp();
        await symlink(h.linkname, temp);
        await setPathAttributes(temp, h, this.owners, true);
        this.stats.links++;
        this.ops.push(() => this.place(e.index, temp));
        return;
      }
      case TarType.FIFO:
      case TarType.CHARDEV:
      case TarType.BLOCKDEV: {
        if (h.type !== TarType.FIFO && !this.owners) {
          this.warnings.push(`${indexToDisplay(e.index)}: device not restored (needs root)`);
          return;
        }
        const temp = this.temp();
        if (h.type === TarType.FIFO) await run('mkfifo', ['-m', '600', temp]);
        else
          await run('mknod', ['-m', '600', temp, h.type === TarType.CHARDEV ? 'c' : 'b', String(h.devmajor), String(h.devminor)]); // prettier-ignore
        await setPathAttributes(temp, h, this.owners);
        this.stats.special++;
        this.ops.push(() => this.place(e.index, temp));
        return;
      }
      default:
        this.warnings.push(`${indexToDisplay(e.index)}: tar type ${JSON.stringify(h.type)} not restored`);
    }
  }

  private async startDiff(e: VolumeEntry, what: string): Promise<void> {
    const file: OpenFile = { kind: 'diff', index: e.index, header: e.header, temp: this.temp() };
    const st = (await this.dest.parents(e.index, false)) ? await this.dest.stat(e.index) : undefined;
    if (!st?.isFile())
      throw new DeaddropError(
        `${what}: a delta for ${indexToDisplay(e.index)}, but the restored tree has no such file`,
      );
    file.basis = await open(this.dest.pathOf(e.index), constants.O_RDONLY | constants.O_NOFOLLOW);
    file.delta = new DeltaSink(file.basis, file.temp, `${what}: delta of ${indexToDisplay(e.index)}`);
    this.open = file;
    await this.append(file, await e.read());
    if (!e.multivol) await this.close(file);
  }

  private async append(f: OpenFile, data: Buffer): Promise<void> {
    if (data.length === 0) return;
    if (f.delta) return f.delta.write(data);
    let at = 0;
    while (at < data.length) at += (await f.fh!.write(data, at)).bytesWritten;
  }

  /** The file is complete: attributes on the staged copy, its move into place queued. */
  private async close(f: OpenFile): Promise<void> {
    this.open = undefined;
    if (f.delta) {
      try {
        await f.delta.end();
      } finally {
        await f.basis!.close();
      }
      f.fh = await open(f.temp, 'r+');
    }
    try {
      await setHandleAttributes(f.fh!, f.header, this.owners);
      this.stats.bytes += (await f.fh!.stat()).size;
    } finally {
      await f.fh!.close();
    }
    this.stats.files++;
    this.ops.push(() => this.place(f.index, f.temp));
  }

  /** Move a staged object to its place, replacing whatever is there (a directory with its contents). */
  private async place(index: PathIndex, temp: string): Promise<void> {
    if (index.length === 0) throw new DeaddropError('the backup root is not a directory: cannot restore it here');
    await this.dest.parents(index, true);
    const st = await this.dest.stat(index);
    if (st?.isDirectory()) {
      await rm(this.dest.pathOf(index), { recursive: true, force: true });
      this.dest.forget();
    }
    await rename(temp, this.dest.pathOf(index));
  }

  private async makeDir(index: PathIndex): Promise<void> {
    this.stats.dirs++;
    if (index.length === 0) return;
    await this.dest.parents(index, true);
    const st = await this.dest.stat(index);
    if (st?.isDirectory()) return;
    if (st) await rm(this.dest.pathOf(index), { force: true });
    await mkdir(this.dest.pathOf(index), { mode: 0o700 }); // its own mode comes last (writable meanwhile)
  }

  /** The volume passed its checks: move what it completed into place. */
  async commit(): Promise<void> {
    const ops = this.ops;
    this.ops = [];
    for (const op of ops) await op();
  }

  /** End of a set: its last multivol file is complete. */
  async endSet(): Promise<void> {
    if (this.open) await this.close(this.open);
    await this.commit();
  }

  /** Everything applied: directory attributes, deepest first, on what is still a directory. */
  async finish(): Promise<void> {
    const dirs = [...this.dirs.values()].sort((a, b) => b.index.length - a.index.length);
    for (const d of dirs) {
      if (d.index.length > 0 && !(await this.dest.parents(d.index, false))) continue;
      const st = await this.dest.stat(d.index);
      if (st?.isDirectory()) await setPathAttributes(this.dest.pathOf(d.index), d.header, this.owners);
    }
  }

  /** Failure: drop what is open and queued (the staging directory goes with it). */
  async abort(): Promise<void> {
    const o = this.open;
    this.open = undefined;
    this.ops = [];
    o?.delta?.abort();
    await o?.basis?.close().catch(() => {});
    await o?.fh?.close().catch(() => {});
  }
}

function sameIndex(a: PathIndex, b: PathIndex): boolean {
  return a.length === b.length && a.every((c, i) => c.equals(b[i]!));
}
