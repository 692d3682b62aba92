/**
 * Paths inside the restore destination, never leaving it: every parent of a path is checked
 * (lstat) to be a real directory, not a symlink, before anything is created, replaced or
 * removed under it. Checked directories are remembered until something is removed.
 * Paths are relative byte strings (components joined with `/`, empty for the root): one
 * Buffer per pending object keeps a volume's worth of them small.
 * Synchronous calls: a restore makes several per file, and a thread-pool round trip each
 * cost more than the calls themselves (20k small files: 20 s -> 12 s).
 */
import { lstatSync, mkdirSync, rmSync, type Stats } from 'node:fs';
import { DeaddropError } from '@deaddrop/common/errors';

const SLASH = 0x2f;

export class DestTree {
  readonly root: Buffer;
  private readonly prefix: Buffer;
  private checked = new Set<string>();

  constructor(root: string) {
    this.root = Buffer.from(root);
    this.prefix = Buffer.from(`${root}/`);
  }

  /** The path of `rel` under the root (the root itself for an empty `rel`). */
  pathOf(rel: Buffer): Buffer {
    return rel.length === 0 ? this.root : Buffer.concat([this.prefix, rel]);
  }

  /**
   * Make sure every ancestor of `rel` is a directory inside the root. `create`: make missing
   * ones (a subtree restored without its parents) and refuse a symlink or file in the way;
   * else return false when one is missing or not a directory (nothing can be below it).
   */
  parents(rel: Buffer, create: boolean): boolean {
    for (let i = rel.indexOf(SLASH); i >= 0; i = rel.indexOf(SLASH, i + 1)) {
      const dir = rel.subarray(0, i);
      const key = dir.toString('latin1');
      if (this.checked.has(key)) continue;
      const path = this.pathOf(dir);
      const st = lstatSync(path, { throwIfNoEntry: false });
      if (!st) {
        if (!create) return false;
        // never wider than the backup's while files go below it: a parent of a --path gets
        // its own mode at the end (apply.ts finish), from the backup's entry for it
        mkdirSync(path, { mode: 0o700 });
      } else if (!st.isDirectory()) {
        if (!create) return false;
        throw new DeaddropError(
          `${path.toString('utf8')}: is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}: refusing to write under it`,
        );
      }
      this.checked.add(key);
    }
    return true;
  }

  /** Remove whatever is at `rel` (a directory with its contents; a symlink itself, not its target). */
  remove(rel: Buffer): void {
    if (rel.length === 0 || !this.parents(rel, false)) return;
    rmSync(this.pathOf(rel), { recursive: true, force: true });
    this.checked.clear();
  }

  /** The lstat of `rel`, undefined when absent. */
  stat(rel: Buffer): Stats | undefined {
    try {
      return lstatSync(this.pathOf(rel), { throwIfNoEntry: false });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw err;
    }
  }

  forget(): void {
    this.checked.clear();
  }
}
