/**
 * Compare two trees the way a restore must reproduce them: walk both with lstat and report
 * every difference in type, permission bits, integer mtime, size, content (SHA-256), link
 * target, device number, and owner when running as root. Names are bytes (shown hex-escaped).
 * Sockets are skipped (backups skip them); hard links compare as independent files.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { isRoot } from './tools.js';

export interface CompareOptions {
  /** Leave out the roots' own attributes. */
  skipRoot?: boolean;
  /** Leave out directory mtimes. */
  skipDirTimes?: boolean;
  /** Leave out symlink mtimes (duplicity does not restore them). */
  skipLinkTimes?: boolean;
  /** Compare owners (default: when running as root). */
  owners?: boolean;
  /** Relative paths (bytes as latin1) to leave out, with everything under them. */
  ignore?: string[];
}

const SLASH = Buffer.from('/');
const show = (rel: Buffer) => (rel.length ? JSON.stringify(rel.toString('latin1')) : '.');

function kind(st: Stats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  return 'socket';
}

function sha256(path: Buffer): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function entries(dir: Buffer): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const n of readdirSync(dir, { encoding: 'buffer' }) as Buffer[]) m.set(n.toString('latin1'), n);
  return m;
}

/** Differences between `expected` and `actual`, one line each; empty when they match. */
export function compareTrees(expected: string, actual: string, opts: CompareOptions = {}): string[] {
  const owners = opts.owners ?? isRoot;
  const ignore = new Set(opts.ignore ?? []);
  const diffs: string[] = [];
  const at = (root: Buffer, rel: Buffer) => (rel.length ? Buffer.concat([root, SLASH, rel]) : root);
  const walk = (a: Buffer, b: Buffer, rel: Buffer) => {
    if (ignore.has(rel.toString('latin1'))) return;
    const sa = lstatSync(at(a, rel));
    const sb = lstatSync(at(b, rel));
    const name = show(rel);
    if (kind(sa) !== kind(sb)) return void diffs.push(`${name}: type ${kind(sa)} != ${kind(sb)}`);
    const root = rel.length === 0;
    if (!(root && opts.skipRoot)) {
      if (!sa.isSymbolicLink() && (sa.mode & 0o7777) !== (sb.mode & 0o7777))
        diffs.push(`${name}: mode ${(sa.mode & 0o7777).toString(8)} != ${(sb.mode & 0o7777).toString(8)}`);
      const skipTime = (sa.isDirectory() && opts.skipDirTimes) || (sa.isSymbolicLink() && opts.skipLinkTimes);
      if (!skipTime && Math.trunc(sa.mtimeMs / 1000) !== Math.trunc(sb.mtimeMs / 1000))
        diffs.push(`${name}: mtime ${Math.trunc(sa.mtimeMs / 1000)} != ${Math.trunc(sb.mtimeMs / 1000)}`);
      if (owners && (sa.uid !== sb.uid || sa.gid !== sb.gid))
        diffs.push(`${name}: owner ${sa.uid}:${sa.gid} != ${sb.uid}:${sb.gid}`);
    }
    if (sa.isFile()) {
      if (sa.size !== sb.size) diffs.push(`${name}: size ${sa.size} != ${sb.size}`);
      else if (sha256(at(a, rel)) !== sha256(at(b, rel))) diffs.push(`${name}: content differs`);
    } else if (sa.isSymbolicLink()) {
      const ta = readlinkSync(at(a, rel), { encoding: 'buffer' });
      const tb = readlinkSync(at(b, rel), { encoding: 'buffer' });
      if (!ta.equals(tb)) diffs.push(`${name}: link ${show(ta)} != ${show(tb)}`);
    } else if ((sa.isCharacterDevice() || sa.isBlockDevice()) && sa.rdev !== sb.rdev)
      diffs.push(`${name}: device ${sa.rdev} != ${sb.rdev}`);
    else if (sa.isDirectory()) {
      const ea = entries(at(a, rel));
      const eb = entries(at(b, rel));
      const child = (n: Buffer) => (rel.length ? Buffer.concat([rel, SLASH, n]) : n);
      const skip = (n: Buffer, st: Stats) => st.isSocket() || ignore.has(child(n).toString('latin1'));
      for (const [k, n] of ea) {
        if (skip(n, lstatSync(at(a, child(n))))) continue;
        if (!eb.has(k)) diffs.push(`${show(child(n))}: missing`);
        else walk(a, b, child(n));
      }
      for (const [k, n] of eb)
        if (!ea.has(k) && !skip(n, lstatSync(at(b, child(n))))) diffs.push(`${show(child(n))}: unexpected`);
    }
  };
  walk(Buffer.from(expected), Buffer.from(actual), Buffer.alloc(0));
  return diffs;
}
