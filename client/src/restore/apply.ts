/**
 * Apply volume entries, set after set, to the destination tree (formats §5.8, set by set
 * instead of merged: the full set lays the tree down, each incremental then patches it).
 * New content goes to a staging directory first; what a volume completed is moved into place
 * only when that volume has passed its hash checks (`commit`), so a tampered or truncated
 * volume leaves nothing of itself behind. Directory attributes are set last, deepest first.
 * Where DEST holds a mount point, a staged file is copied next to its place, then renamed.
 * File system calls are synchronous (see dest-tree.ts), except the patching of deltas, the
 * writing of big files' data (write-behind.ts), complete when the file is closed, and the
 * making of small files on the thread pool (stage-files.ts), complete before a commit.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  type Stats,
  utimesSync,
  writeSync,
} from 'node:fs';
import { chmod, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DeaddropError } from '@deaddrop/common/errors';
import { TarType } from '../archive/tar-header.js';
import { joinIndex, type PathIndex } from '../scan/path-index.js';
import { DeltaSink } from './delta-sink.js';
import type { DestTree } from './dest-tree.js';
import type { VolumeEntry } from './entries.js';
import { attributesOf, setFdAttributes, setPathAttributes, type Attributes, type Owners } from './metadata.js';
import { FileStager } from './stage-files.js';
import { WriteBehind } from './write-behind.js';

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
  rel: Buffer;
  attrs: Attributes;
  temp: number;
  size: number;
  /** Written by write-behind.ts: a big file, in multivol chunks (a small one is written here at once). */
  behind?: boolean;
  /** The last chunk written was all zeros, left a hole: the size is set at close. */
  hole?: boolean;
  fd?: number;
  basis?: FileHandle;
  delta?: DeltaSink;
}

/**
 * A change waiting for its volume's checks: compact, a volume may hold many thousands. The path
 * is kept as a latin1 string (its bytes, one per char), not the Buffer: a small Buffer is a
 * slice of an 8 KiB pool slab that it keeps alive with all else on it (bench restore: ~400
 * slabs, 3.3 MiB, held by one volume's ops).
 */
type Op = { op: 'place'; rel: string; temp: number } | { op: 'dir'; rel: string } | { op: 'delete'; rel: string };
const held = (rel: Buffer): string => rel.toString('latin1');
const bytes = (rel: string): Buffer => Buffer.from(rel, 'latin1');

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new DeaddropError(`${cmd}: ${err.trim()}`))));
  });
}

const SLASH = Buffer.from('/');
const TEMPS_PER_DIR = 256;
const show = (rel: Buffer) => (rel.length ? rel.toString('utf8') : '.');

export class TreeApplier {
  readonly stats: ApplyStats = { files: 0, dirs: 0, links: 0, special: 0, deleted: 0, bytes: 0 };
  readonly warnings: string[] = [];
  private open: OpenFile | undefined;
  private ops: Op[] = [];
  private readonly writer = new WriteBehind();
  /** Small files are made on the thread pool where the addon is built (stage-files.ts). */
  private readonly stager = FileStager.create();
  /**
   * The directories met, by path (latin1, as ops keep theirs): their attributes are set last.
   * `parentOnly`: a parent of a --path, there for its attributes (addParent).
   */
  private dirs = new Map<string, { depth: number; attrs: Attributes; parentOnly: boolean }>();
  private seq = 0;
  private tempDir = -1;
  /** What this restore made has a ctime from here on; what DEST held before (--force) is older. */
  private readonly since = Date.now() - 1;

  /**
   * `fresh`: the tree held nothing (an empty DEST, or a tree of its own in the staging
   * directory: see mergeInto), so while the first set (a full) is applied nothing is replaced
   * and nothing needs taking out of the counts (no lstat per object).
   */
  constructor(
    private dest: DestTree,
    private readonly staging: string,
    private readonly owners: Owners | undefined,
    private fresh = false,
  ) {}

  /**
   * Staged objects go 256 to a directory: creating a file in one directory of thousands (a
   * volume of small files) scans its entries (ext4: 20,000 creates, 0.65 s flat, 0.42 s so).
   */
  private nextTemp(): number {
    const n = ++this.seq;
    const dir = Math.floor(n / TEMPS_PER_DIR);
    if (dir !== this.tempDir) mkdirSync(join(this.staging, String(dir)));
    this.tempDir = dir;
    return n;
  }

  private tempPath(n: number): string {
    return join(this.staging, String(Math.floor(n / TEMPS_PER_DIR)), String(n % TEMPS_PER_DIR));
  }

  /** Apply one entry. Nothing of its data is kept once this returns (copied where needed): the reader reuses its buffers. */
  async add(e: VolumeEntry, what: string): Promise<void> {
    const o = this.open;
    if (o && e.multivol && e.kind === o.kind && sameIndex(e.index, o.index)) return this.append(o, await e.read());
    if (o) await this.close(o);
    const rel = e.index.length ? joinIndex(e.index) : Buffer.alloc(0);
    if (e.kind === 'deleted') return void this.ops.push({ op: 'delete', rel: held(rel) });
    const attrs = attributesOf(e.header, this.owners);
    if (e.kind === 'diff') return this.startDiff(e, rel, attrs, what);
    const h = e.header;
    switch (h.type) {
      case TarType.FILE:
      case '\0':
      case '7': {
        if (!e.multivol && this.stager) return this.stageWhole(rel, attrs, await e.read());
        const file: OpenFile = {
          kind: 'snapshot',
          index: e.index,
          rel,
          attrs,
          temp: this.nextTemp(),
          size: 0,
          behind: e.multivol,
        };
        file.fd = openSync(this.tempPath(file.temp), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
        this.open = file;
        await this.append(file, await e.read());
        if (!e.multivol) await this.close(file);
        return;
      }
      case TarType.DIR:
        this.dirs.set(held(rel), { depth: e.index.length, attrs, parentOnly: false });
        this.ops.push({ op: 'dir', rel: held(rel) });
        return;
      case TarType.SYMLINK: {
        const temp = this.nextTemp();
        symlinkSync(h.linkname, this.tempPath(temp));
        setPathAttributes(this.tempPath(temp), attrs, true);
        this.stats.links++;
        this.ops.push({ op: 'place', rel: held(rel), temp });
        return;
      }
      case TarType.FIFO:
      case TarType.CHARDEV:
      case TarType.BLOCKDEV: {
        if (h.type !== TarType.FIFO && !this.owners) {
          this.warnings.push(`${show(rel)}: device not restored (needs root)`);
          return;
        }
        const temp = this.nextTemp();
        const path = this.tempPath(temp);
        if (h.type === TarType.FIFO) await run('mkfifo', ['-m', '600', path]);
        else
          await run('mknod', ['-m', '600', path, h.type === TarType.CHARDEV ? 'c' : 'b', String(h.devmajor), String(h.devminor)]); // prettier-ignore
        setPathAttributes(path, attrs);
        this.stats.special++;
        this.ops.push({ op: 'place', rel: held(rel), temp });
        return;
      }
      default:
        this.warnings.push(`${show(rel)}: tar type ${JSON.stringify(h.type)} not restored`);
    }
  }

  /**
   * The backup's entry for a directory above a --path: made with its mode, mtime and owner, as
   * a full restore makes it (a private directory stays private), but not part of the restored
   * state: its other contents are not restored, it is not counted, nor isRestoredDir.
   */
  async addParent(e: VolumeEntry, what: string): Promise<void> {
    await this.add(e, what);
    const d = this.dirs.get(held(joinIndex(e.index)));
    if (d) d.parentOnly = true;
  }

  /** A file in one entry (64 KiB at most: a bigger one comes in multivol chunks), made on the pool. */
  private async stageWhole(rel: Buffer, attrs: Attributes, data: Buffer): Promise<void> {
    const temp = this.nextTemp();
    // all zeros: not written, a hole (as append() leaves it)
    const hole = data.length > 0 && allZero(data);
    await this.stager!.stage(this.tempPath(temp), data, hole, data.length, attrs);
    this.stats.bytes += data.length;
    this.stats.files++;
    this.ops.push({ op: 'place', rel: held(rel), temp });
  }

  private async startDiff(e: VolumeEntry, rel: Buffer, attrs: Attributes, what: string): Promise<void> {
    const st = this.dest.parents(rel, false) ? this.dest.stat(rel) : undefined;
    if (!st?.isFile())
      throw new DeaddropError(`${what}: a delta for ${show(rel)}, but the restored tree has no such file`);
    const file: OpenFile = { kind: 'diff', index: e.index, rel, attrs, temp: this.nextTemp(), size: 0 };
    file.basis = await openBasis(this.dest.pathOf(rel), st.mode);
    file.delta = new DeltaSink(file.basis, this.tempPath(file.temp), `${what}: delta of ${show(rel)}`);
    this.open = file;
    await this.append(file, await e.read());
    if (!e.multivol) await this.close(file);
  }

  private async append(f: OpenFile, data: Buffer): Promise<void> {
    if (data.length === 0) return;
    if (f.delta) return f.delta.write(data);
    const offset = f.size;
    f.size += data.length;
    // a chunk of zeros is not written: a sparse file stays sparse (the holes read as zeros)
    f.hole = allZero(data);
    if (f.hole) return;
    if (f.behind) return this.writer.write(f.fd!, data, offset);
    let at = 0;
    while (at < data.length) at += writeSync(f.fd!, data, at, data.length - at, offset + at);
  }

  /** The file is complete: attributes on the staged copy, its move into place queued. */
  private async close(f: OpenFile): Promise<void> {
    this.open = undefined;
    if (f.behind) await this.writer.idle();
    if (f.delta) {
      try {
        await f.delta.end();
      } finally {
        await f.basis!.close();
      }
      f.fd = openSync(this.tempPath(f.temp), 'r+');
      f.size = fstatSync(f.fd).size;
    }
    try {
      if (f.hole) ftruncateSync(f.fd!, f.size); // ends in a hole: the size the writes did not set
      setFdAttributes(f.fd!, f.attrs);
    } finally {
      closeSync(f.fd!);
    }
    this.stats.bytes += f.size;
    this.stats.files++;
    this.ops.push({ op: 'place', rel: held(f.rel), temp: f.temp });
  }

  /** Move a staged object to its place, replacing whatever is there (a directory with its contents). */
  private place(rel: Buffer, temp: number): void {
    if (rel.length === 0) throw new DeaddropError('the backup root is not a directory: cannot restore it here');
    this.dest.parents(rel, true);
    if (!this.fresh) this.uncountTree(this.dest.pathOf(rel));
    const final = this.dest.pathOf(rel);
    const staged = this.tempPath(temp);
    try {
      this.replace(staged, final);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      this.moveAcross(staged, final, temp);
    }
  }

  /** DEST holds a mount point: the object is on another file system than its place; copied next to it, then renamed. */
  private moveAcross(from: string | Buffer, final: Buffer, n: number): void {
    const dir = final.subarray(0, final.lastIndexOf(0x2f) + 1);
    const near = Buffer.concat([dir, Buffer.from(`.deaddrop-restore-move.${process.pid}.${n}`)]);
    copyObject(from, near, final);
    rmSync(from);
    this.replace(near, final);
  }

  /** Rename `from` to `final`, replacing whatever is there (a file or symlink itself, never followed; a directory). */
  private replace(from: string | Buffer, final: Buffer): void {
    try {
      renameSync(from, final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      rmSync(final, { recursive: true, force: true }); // a directory is in the way
      this.dest.forget();
      renameSync(from, final);
    }
  }

  /**
   * Stats count the restored tree: an object replaced or deleted by a later set no longer counts
   * (each set's entry for it was counted as it came).
   */
  private uncount(st: Stats | undefined): void {
    if (!st || st.ctimeMs < this.since) return;
    if (st.isFile()) {
      this.stats.files--;
      this.stats.bytes -= st.size;
    } else if (st.isDirectory())
      return; // counted in finish()
    else if (st.isSymbolicLink()) this.stats.links--;
    else this.stats.special--;
  }

  /** uncount for an object about to be removed with all below it (a directory's deletion). */
  private uncountTree(path: Buffer): void {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st?.isDirectory())
      for (const name of readdirSync(path, { encoding: 'buffer' }))
        this.uncountTree(Buffer.concat([path, SLASH, name]));
    this.uncount(st);
  }

  private makeDir(rel: Buffer): void {
    if (rel.length === 0) return;
    this.dest.parents(rel, true);
    const st = this.dest.stat(rel);
    if (st?.isDirectory()) return;
    this.uncount(st);
    if (st) rmSync(this.dest.pathOf(rel), { force: true });
    mkdirSync(this.dest.pathOf(rel), { mode: 0o700 }); // its own mode comes last (writable meanwhile)
  }

  /** The files of the volume's entries made (those on the thread pool too); their first error thrown. */
  async written(): Promise<void> {
    await this.stager?.idle();
  }

  /** The volume passed its checks: move what it completed into place (once made). */
  async commit(): Promise<void> {
    await this.written();
    const ops = this.ops;
    this.ops = [];
    for (const o of ops) {
      const rel = bytes(o.rel);
      if (o.op === 'place') this.place(rel, o.temp);
      else if (o.op === 'dir') this.makeDir(rel);
      else {
        if (rel.length > 0 && this.dest.parents(rel, false)) this.uncountTree(this.dest.pathOf(rel));
        this.dest.remove(rel);
        this.stats.deleted++;
      }
    }
  }

  /** End of a set: its last multivol file is complete. */
  async endSet(): Promise<void> {
    if (this.open) await this.close(this.open);
    await this.commit();
    this.fresh = false;
  }

  /** Every set applied: keep only the directories of the restored state (a later set may have deleted or replaced one). */
  settle(): void {
    for (const key of this.dirs.keys()) if (!this.isDir(bytes(key))) this.dirs.delete(key);
  }

  /** A directory of the restored state (after settle()). */
  isRestoredDir(rel: Buffer): boolean {
    return this.dirs.get(held(rel))?.parentOnly === false;
  }

  private isDir(rel: Buffer): boolean {
    if (rel.length === 0) return statSync(this.dest.root).isDirectory(); // DEST may be a symlink to one (--to LINK)
    return this.dest.parents(rel, false) && this.dest.stat(rel)?.isDirectory() === true;
  }

  /**
   * --force into a DEST that held something: the sets were applied to a tree of their own (in
   * the staging directory), so that no set but the state at the chosen time bears on DEST's
   * content. Move that tree into DEST object by object: into a directory DEST has too, else
   * replacing what is there. What DEST holds besides stays. Call settle() first.
   */
  mergeInto(dest: DestTree): void {
    this.mergeDir(Buffer.alloc(0), dest);
    dest.forget();
    this.dest = dest; // finish() sets directory attributes there
  }

  private mergeDir(rel: Buffer, dest: DestTree): void {
    for (const name of readdirSync(this.dest.pathOf(rel), { encoding: 'buffer' })) {
      const r = rel.length ? Buffer.concat([rel, SLASH, name]) : name;
      const from = this.dest.pathOf(r);
      const to = dest.pathOf(r);
      const st = lstatSync(from);
      const there = lstatSync(to, { throwIfNoEntry: false });
      if (st.isDirectory() && there?.isDirectory()) {
        this.mergeDir(r, dest);
        continue;
      }
      // a directory made only as the parent of a --path is not the backup's: it replaces nothing
      if (st.isDirectory() && there && !this.isRestoredDir(r))
        throw new DeaddropError(
          `${show(to)}: is ${there.isSymbolicLink() ? 'a symlink' : 'not a directory'}: refusing to write under it`,
        );
      // rename replaces a file or symlink itself; a directory on either side goes first
      if (there && (st.isDirectory() || there.isDirectory())) rmSync(to, { recursive: true, force: true });
      try {
        renameSync(from, to);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        if (!st.isDirectory()) this.moveAcross(from, to, ++this.seq);
        else {
          mkdirSync(to, { mode: 0o700 }); // its attributes come in finish()
          this.mergeDir(r, dest);
        }
      }
    }
  }

  /**
   * Everything applied: directory attributes, deepest first, on what is still a directory, the
   * root last; then `unmark` removes what says DEST is unfinished (restore.ts: its marker and
   * its lock), which dates DEST: the root's mtime is set once more after it. Until then the
   * root keeps u+w (a backup's root may deny its owner writing: 0555), for that removal.
   */
  async finish(unmark: () => Promise<void>): Promise<void> {
    const dirs = [...this.dirs].map(([key, d]) => ({ ...d, rel: bytes(key) })).sort((a, b) => b.depth - a.depth);
    let root: { path: string; attrs: Attributes } | undefined;
    for (const d of dirs) {
      if (!this.isDir(d.rel)) continue;
      if (d.rel.length) setPathAttributes(this.dest.pathOf(d.rel), d.attrs);
      else {
        // on DEST's directory, not on a symlink to it (lchown)
        root = { path: realpathSync(this.dest.root), attrs: d.attrs };
        setPathAttributes(root.path, { ...d.attrs, mode: d.attrs.mode | 0o200 });
      }
      if (!d.parentOnly) this.stats.dirs++; // the directories of the restored tree: those still there
    }
    await unmark();
    if (!root) return; // a --path restore: DEST's root is not the backup's
    if (!(root.attrs.mode & 0o200)) chmodSync(root.path, root.attrs.mode);
    utimesSync(root.path, root.attrs.mtime, root.attrs.mtime);
  }

  /** Failure: drop what is open and queued (the staging directory goes with it). */
  async abort(): Promise<void> {
    const o = this.open;
    this.open = undefined;
    this.ops = [];
    o?.delta?.abort();
    await this.writer.abandon();
    await this.stager?.abandon();
    await o?.basis?.close().catch(() => {});
    if (o?.fd !== undefined && o.kind === 'snapshot') closeSync(o.fd);
  }
}

/**
 * Open a restored file to patch it. Its mode may deny its owner reading (0000 is common
 * in a backup made as root); not being root, we may still read it by lending ourselves u+r
 * for the open. The mode is put back at once (the patched copy replaces the file anyway).
 */
async function openBasis(path: Buffer, mode: number): Promise<FileHandle> {
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW;
  try {
    return await open(path, flags);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES' || mode & 0o400) throw err;
  }
  await chmod(path, (mode & 0o7777) | 0o400);
  try {
    return await open(path, flags);
  } finally {
    await chmod(path, mode & 0o7777);
  }
}

/**
 * Copy a staged file or symlink to `to` (another file system), with its owner, mode and mtime.
 * Fifos and devices are not copied: they are rare under a mount point of DEST.
 */
function copyObject(from: string | Buffer, to: Buffer, final: Buffer): void {
  const st = lstatSync(from);
  if (st.isSymbolicLink()) symlinkSync(readlinkSync(from, { encoding: 'buffer' }), to);
  else if (st.isFile()) {
    chmodSync(from, 0o600); // ours, and maybe mode 0000: readable for the copy
    copyFileSync(from, to, constants.COPYFILE_EXCL);
  } else throw new DeaddropError(`${final.toString('utf8')}: a fifo or device cannot be restored across a mount point`);
  const attrs = { mode: st.mode & 0o7777, mtime: st.mtimeMs / 1000 };
  const owner = process.getuid?.() === 0 ? { uid: st.uid, gid: st.gid } : {};
  setPathAttributes(to, { ...attrs, ...owner }, st.isSymbolicLink());
}

const ZEROS = Buffer.alloc(64 * 1024);

/** Every byte 0. Ordinary data is told at once by its first or last byte; zeros cost a memcmp. */
function allZero(data: Buffer): boolean {
  if (data[0] !== 0 || data[data.length - 1] !== 0) return false;
  for (let at = 0; at < data.length; at += ZEROS.length) {
    const n = Math.min(ZEROS.length, data.length - at);
    if (ZEROS.compare(data, at, at + n, 0, n) !== 0) return false;
  }
  return true;
}

function sameIndex(a: PathIndex, b: PathIndex): boolean {
  return a.length === b.length && a.every((c, i) => c.equals(b[i]!));
}
