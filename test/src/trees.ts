/**
 * The awkward tree of the backup tests, and deterministic changes to it. Everything a Linux
 * host may hold that duplicity's format has to carry: non-UTF-8 and newline names, long
 * paths, symlinks (dangling, non-UTF-8 target), hard links, a sparse file, a fifo, a socket
 * (skipped by backups), empty files, files of exactly 64 KiB multiples, a file larger than a
 * small volume, setuid bits, and a char device when running as root. Content is seeded, mtimes
 * are fixed, so two runs build byte-identical trees.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  ftruncateSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { isRoot } from './tools.js';

const b = (s: string | number[]) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));
const join = (...parts: (string | Buffer)[]) =>
  Buffer.concat(parts.flatMap((p, i) => (i ? [b('/'), b(p as never)] : [b(p as never)])));

/** `data` cut into pieces of the sizes in `cuts`, taken in turn (0 gives an empty piece), to the end. */
export function cutInPieces(data: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min(cuts[i % cuts.length]!, data.length - at);
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

/**
 * `data` in chunks of `size`, each copied into one and the same buffer just before it is given
 * out: a source that reuses its buffers, as the restore's reads do.
 */
export async function* oneBufferChunks(data: Buffer, size: number): AsyncGenerator<Buffer> {
  const buf = Buffer.alloc(size);
  for (let at = 0; at < data.length; at += size) {
    const n = data.copy(buf, 0, at, at + size);
    yield buf.subarray(0, n);
  }
}

/** Deterministic bytes (SHA-256 in counter mode): incompressible, the same on every run. */
export function seededBytes(seed: string, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0, block = 0; i < size; block++) {
    const h = createHash('sha256').update(`${seed}:${block}`).digest();
    i += h.copy(out, i, 0, Math.min(32, size - i));
  }
  return out;
}

/** Deterministic text lines (compressible, like logs). */
export function seededText(seed: string, size: number): Buffer {
  const lines: string[] = [];
  let n = 0;
  for (let i = 0; n < size; i++) {
    const h = createHash('sha1').update(`${seed}:${i}`).digest('hex');
    const line = `2026-11-23T03:${String(i % 60).padStart(2, '0')}:00Z host app[${i % 977}]: request ${h.slice(0, 12)} status=${200 + (i % 5)}\n`;
    lines.push(line);
    n += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

const T0 = 1577934245; // 2020-01-02 03:04:05 UTC

function file(path: Buffer, data: Buffer, mtime = T0, mode = 0o644): void {
  writeFileSync(path, data);
  chmodSync(path, mode);
  utimesSync(path, mtime, mtime);
}

/** A unix socket file left behind (backups skip sockets). */
function socket(path: Buffer): void {
  const r = spawnSync('/usr/bin/python3', [
    '-c',
    'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1].encode("latin1"))',
    path.toString('latin1'),
  ]);
  if (r.status !== 0) throw new Error(`cannot make socket: ${r.stderr}`);
}

function sparse(path: Buffer, size: number, at: number, mtime = T0): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  writeSync(fd, b('x'), 0, 1, at);
  closeSync(fd);
  utimesSync(path, mtime, mtime);
}

export interface AwkwardTreeOptions {
  /** Size of the file meant to be larger than a volume (default 1.5 MB). */
  bigSize?: number;
}

/** Build the awkward tree in `dir` (which must exist and be empty). Returns `dir`. */
export function makeAwkwardTree(dir: string, opts: AwkwardTreeOptions = {}): string {
  const d = b(dir);
  const p = (...parts: (string | Buffer)[]) => join(d, ...parts);
  file(p('a.txt'), b('hello world\n'));
  file(p('empty.txt'), b(''));
  file(p('big64k.bin'), seededBytes('64k', 65536));
  file(p('big128k.bin'), seededBytes('128k', 131072));
  file(p('big200k.bin'), seededBytes('200k', 200000));
  file(p('huge.bin'), seededBytes('huge', opts.bigSize ?? 1_500_000));
  file(p('app.log'), seededText('log', 300_000));
  file(p('setuid-tool'), b('#!/bin/sh\n'), T0, 0o4755);
  file(p('secret'), b('private\n'), T0, 0o600);
  mkdirSync(p('dir1', 'sub'), { recursive: true });
  file(p('dir1', 'sub', 'small.bin'), seededBytes('small', 1024));
  file(p('dir1-x.txt'), b('x\n')); // sorts after dir1/… (tuple order)
  mkdirSync(p('emptydir'));
  const L = 'L'.repeat(60);
  mkdirSync(p(L));
  file(p(L, `${'M'.repeat(60)}.txt`), b('long path\n'));
  const deep = ['d'.repeat(50), 'e'.repeat(50), 'f'.repeat(50)];
  mkdirSync(p(...deep), { recursive: true });
  file(p(...deep, 'g'.repeat(120)), b('deep\n'));
  file(p('café-utf8.txt'), b('utf-8 name'));
  file(p(b([...b('caf'), 0xe9, ...b('-latin1.txt')])), b('latin-1 name\n'));
  file(p('new\nline.txt'), b('nl\n'));
  file(p('tab\tand space .txt'), b('tab\n'));
  mkdirSync(p('dir with space'));
  file(p('dir with space', `it's "quoted".txt`), b('q\n'));
  file(p('back\\slash'), b('bs\n'));
  symlinkSync('a.txt', p('link-to-a'));
  symlinkSync('/nonexistent/target', p('dangling'));
  symlinkSync(b([0x2e, 0x2f, 0xff, 0xfe]), p('link-binary-target'));
  linkSync(p('a.txt'), p('hardlink-to-a'));
  spawnSync('mkfifo', [p('fifo1').toString('latin1')]);
  socket(p('sock'));
  sparse(p('sparse.bin'), 3 * 1024 * 1024, 1024 * 1024);
  if (isRoot) spawnSync('mknod', [p('chardev').toString('latin1'), 'c', '1', '3']);
  for (const link of ['link-to-a', 'dangling', 'link-binary-target']) lutimesSync(p(link), T0, T0);
  // directory times last: creating entries changed them
  for (const sub of [
    ['dir1', 'sub'],
    ['dir1'],
    ['emptydir'],
    [L],
    ['dir with space'],
    deep,
    deep.slice(0, 2),
    deep.slice(0, 1),
  ])
    utimesSync(p(...sub), T0 + 1, T0 + 1);
  utimesSync(d, T0 + 2, T0 + 2);
  return dir;
}

/**
 * Change the tree the way a day of use does. Step 1 and 2 each touch every kind of change
 * a set has to carry: content edits (delta), append, metadata-only change, deletions (of a
 * directory with its contents, of a hard link), new files and directories, a symlink
 * retargeted, a type change. Changed objects get fixed, distinct mtimes.
 */
export function mutateTree(dir: string, step: number): void {
  const d = b(dir);
  const p = (...parts: (string | Buffer)[]) => join(d, ...parts);
  const t = T0 + 86400 * step;
  if (step === 1) {
    file(p('a.txt'), b('hello world\nand more\n'), t);
    const big = seededBytes('200k', 200000);
    seededBytes('patch1', 512).copy(big, 1024);
    file(p('big200k.bin'), Buffer.concat([big, b('appended 13 b')]), t);
    const huge = seededBytes('huge', 1_500_000);
    seededBytes('patch-huge', 100_000).copy(huge, 500_000);
    file(p('huge.bin'), huge, t);
    file(p('app.log'), Buffer.concat([seededText('log', 300_000), seededText('log-day1', 40_000)]), t);
    chmodSync(p('secret'), 0o640); // metadata only: mtime kept
    rmSync(p('dir1', 'sub'), { recursive: true });
    rmSync(p('empty.txt'));
    rmSync(p('hardlink-to-a'));
    file(p('newfile.txt'), b('new\n'), t);
    mkdirSync(p('newdir', 'inner'), { recursive: true });
    file(p('newdir', 'inner', 'n.bin'), seededBytes('n', 70000), t);
    rmSync(p('link-to-a'));
    symlinkSync('dir1-x.txt', p('link-to-a'));
    rmSync(p('fifo1'));
    file(p('fifo1'), b('was a fifo\n'), t);
    for (const sub of [['newdir', 'inner'], ['newdir'], ['dir1']]) utimesSync(p(...sub), t, t);
    utimesSync(d, t, t);
  } else if (step === 2) {
    file(
      p('app.log'),
      Buffer.concat([seededText('log', 300_000), seededText('log-day1', 40_000), seededText('log-day2', 30_000)]),
      t,
    );
    mkdirSync(p('dir1', 'sub'));
    file(p('dir1', 'sub', 'small.bin'), seededBytes('small2', 2048), t);
    file(p('big64k.bin'), seededBytes('64k-2', 131072), t); // now two chunks + empty final
    file(p(b([...b('caf'), 0xe9, ...b('-latin1.txt')])), b('latin-1 name, edited\n'), t);
    file(p('big128k.bin'), b(''), t); // truncated to empty
    rmSync(p('sparse.bin'));
    rmSync(p('newdir'), { recursive: true });
    mkdirSync(p('fifo1.d'));
    file(p('fifo1.d', 'x'), b('x'), t);
    for (const sub of [['dir1', 'sub'], ['dir1'], ['fifo1.d']]) utimesSync(p(...sub), t, t);
    utimesSync(d, t, t);
  } else throw new Error(`mutateTree: no step ${step}`);
}

export interface ListingOptions {
  /** Leave out the root directory's own attributes. */
  skipRoot?: boolean;
  /** Leave out directory mtimes. */
  skipDirTimes?: boolean;
}

/**
 * One line per object under `dir`, sorted by raw path bytes, with what a restore must
 * reproduce: type, permission bits, integer mtime (not for symlinks), content hash, link
 * target, device numbers. Sockets are left out (backups skip them); hard links show as the
 * independent files duplicity restores them as.
 */
export function treeListing(dir: string, opts: ListingOptions = {}): string[] {
  const out: string[] = [];
  const walk = (path: Buffer, rel: Buffer) => {
    const st = lstatSync(path);
    const name = rel.length ? rel.toString('hex') : '.';
    const mode = (st.mode & 0o7777).toString(8);
    const mtime = Math.trunc(st.mtimeMs / 1000);
    if (st.isSocket()) return;
    if (st.isSymbolicLink())
      out.push(`${name} symlink -> ${readlinkSync(path, { encoding: 'buffer' }).toString('hex')}`);
    else if (st.isFile()) {
      const sha = createHash('sha256').update(readFileSync(path)).digest('hex');
      out.push(`${name} file ${mode} ${mtime} ${st.size} ${sha}`);
    } else if (st.isFIFO()) out.push(`${name} fifo ${mode} ${mtime}`);
    else if (st.isCharacterDevice() || st.isBlockDevice())
      out.push(`${name} ${st.isCharacterDevice() ? 'chr' : 'blk'} ${mode} ${mtime} ${st.rdev}`);
    else if (st.isDirectory()) {
      if (!(opts.skipRoot && rel.length === 0)) out.push(`${name} dir ${mode} ${opts.skipDirTimes ? '-' : mtime}`);
      const names = (readdirSync(path, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare);
      for (const n of names) walk(join(path, n), rel.length ? join(rel, n) : n);
    }
  };
  walk(b(dir), b(''));
  return out;
}
