/**
 * Differences between a restored tree and a live one, for `deaddrop verify`: walks both with
 * lstat (never following links) and compares type, permission bits, integer mtime, size,
 * content (SHA-256, streamed), link target (as bytes), device number, and owner when run as
 * root. Sockets are ignored (backups skip them), and so is a live object the backup lacks
 * when `taken` says the backup would not have taken it (live-selection.ts). Names and targets
 * are shown by showBytes.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { entryTypeOf } from '../scan/entry.js';
import type { TakenByBackup } from './live-selection.js';
import { showBytes } from './show-bytes.js';

export interface Difference {
  path: string;
  what: 'missing' | 'extra' | 'type' | 'mode' | 'mtime' | 'size' | 'content' | 'target' | 'device' | 'owner';
  backup?: string | number;
  live?: string | number;
}

const SLASH = Buffer.from('/');

const typeOf = (st: Stats): string => entryTypeOf(st) ?? 'socket';

async function sha256(path: Buffer): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function names(dir: Buffer): Promise<Map<string, Buffer>> {
  const m = new Map<string, Buffer>();
  for (const n of await readdir(dir, { encoding: 'buffer' })) m.set(n.toString('latin1'), n);
  return m;
}

export interface Comparison {
  differences: Difference[];
  /** Objects of the backup compared (each once, whatever number of sets it came from). */
  compared: number;
  /** Objects of the live tree that the backup lacks and would not have taken (subtrees count once). */
  outside: number;
}

/**
 * Compare `backup` (a restore) with `live` from `rel` down (`rel` empty: the roots; the live
 * root is followed when it is a symlink, so --against may be one). `skipRoot` leaves the
 * root's attributes out.
 */
export async function compareWithLive(
  backup: Buffer,
  live: Buffer,
  opts: { owners: boolean; rel?: Buffer; skipRoot?: boolean; taken?: TakenByBackup },
): Promise<Comparison> {
  const out: Difference[] = [];
  let compared = 0;
  let outside = 0;
  const at = (root: Buffer, rel: Buffer) => (rel.length ? Buffer.concat([root, SLASH, rel]) : root);
  const show = (rel: Buffer) => (rel.length ? showBytes(rel) : '.');
  const walk = async (rel: Buffer): Promise<void> => {
    const a = await lstat(at(backup, rel));
    const b = await (rel.length ? lstat : stat)(at(live, rel)).catch(() => undefined);
    const path = show(rel);
    compared++;
    if (!b) return void out.push({ path, what: 'missing' });
    if (typeOf(a) !== typeOf(b)) return void out.push({ path, what: 'type', backup: typeOf(a), live: typeOf(b) });
    if (!(rel.length === 0 && opts.skipRoot)) {
      if (!a.isSymbolicLink() && (a.mode & 0o7777) !== (b.mode & 0o7777))
        out.push({ path, what: 'mode', backup: (a.mode & 0o7777).toString(8), live: (b.mode & 0o7777).toString(8) });
      if (!a.isSymbolicLink() && Math.trunc(a.mtimeMs / 1000) !== Math.trunc(b.mtimeMs / 1000))
        out.push({ path, what: 'mtime', backup: Math.trunc(a.mtimeMs / 1000), live: Math.trunc(b.mtimeMs / 1000) });
      if (opts.owners && (a.uid !== b.uid || a.gid !== b.gid))
        out.push({ path, what: 'owner', backup: `${a.uid}:${a.gid}`, live: `${b.uid}:${b.gid}` });
    }
    if (a.isFile()) {
      if (a.size !== b.size) out.push({ path, what: 'size', backup: a.size, live: b.size });
      else if ((await sha256(at(backup, rel))) !== (await sha256(at(live, rel)))) out.push({ path, what: 'content' });
    } else if (a.isSymbolicLink()) {
      const ta = await readlink(at(backup, rel), { encoding: 'buffer' });
      const tb = await readlink(at(live, rel), { encoding: 'buffer' });
      if (!ta.equals(tb)) out.push({ path, what: 'target', backup: showBytes(ta), live: showBytes(tb) });
    } else if ((a.isCharacterDevice() || a.isBlockDevice()) && a.rdev !== b.rdev)
      out.push({ path, what: 'device', backup: a.rdev, live: b.rdev });
    else if (a.isDirectory()) {
      const na = await names(at(backup, rel));
      const nb = await names(at(live, rel));
      const child = (n: Buffer) => (rel.length ? Buffer.concat([rel, SLASH, n]) : n);
      for (const [k, n] of [...na].sort()) {
        if (nb.has(k)) await walk(child(n));
        else {
          compared++;
          out.push({ path: show(child(n)), what: 'missing' });
        }
      }
      for (const [k, n] of [...nb].sort()) {
        if (na.has(k)) continue;
        const st = await lstat(at(live, child(n)));
        if (st.isSocket()) continue;
        if (opts.taken && !opts.taken(child(n), st)) outside++;
        else out.push({ path: show(child(n)), what: 'extra' });
      }
    }
  };
  await walk(opts.rel ?? Buffer.alloc(0));
  return { differences: out, compared, outside };
}
