/**
 * Paths inside the restore destination, never leaving it: every parent of a path is checked
 * (lstat) to be a real directory, not a symlink, before anything is created, replaced or
 * removed under it. Checked directories are remembered until something is removed.
 */
import { lstat, mkdir, rm } from 'node:fs/promises';
import { DeaddropError } from '@deaddrop/common/errors';
import type { PathIndex } from '../scan/path-index.js';

const SLASH = Buffer.from('/');

export class DestTree {
  readonly root: Buffer;
  private checked = new Set<string>();

  constructor(root: string) {
    this.root = Buffer.from(root);
  }

  /** The path of `index` under the root (the root itself for `[]`). */
  pathOf(index: PathIndex): Buffer {
    const parts: Buffer[] = [this.root];
    for (const c of index) parts.push(SLASH, c);
    return Buffer.concat(parts);
  }

  /**
   * Make sure every ancestor of `index` is a directory inside the root. `create`: make missing
   * ones (a subtree restored without its parents) and refuse a symlink or file in the way;
   * else return false when one is missing or not a directory (nothing can be below it).
   */
  async parents(index: PathIndex, create: boolean): Promise<boolean> {
    for (let n = 1; n < index.length; n++) {
      const path = this.pathOf(index.slice(0, n));
      const key = path.toString('latin1');
      if (this.checked.has(key)) continue;
      const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (!st) {
        if (!create) return false;
        await mkdir(path, { mode: 0o755 });
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

  /** Remove whatever is at `index` (a directory with its contents; a symlink itself, not its target). */
  async remove(index: PathIndex): Promise<void> {
    if (index.length === 0 || !(await this.parents(index, false))) return;
    await rm(this.pathOf(index), { recursive: true, force: true });
    this.checked.clear();
  }

  /** The lstat of `index`, undefined when absent. */
  async stat(index: PathIndex) {
    return lstat(this.pathOf(index)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw err;
    });
  }

  forget(): void {
    this.checked.clear();
  }
}
