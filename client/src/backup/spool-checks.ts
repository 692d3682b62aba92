/**
 * Which spooled sets were already checked against their sums file (archiveDir/spool-checked.json,
 * written atomically), so that a set waiting for a sink that stays away is read through once,
 * not at every run: a spool of a few GiB would otherwise be read whole by every run.
 *
 * A set's check holds while each of its files keeps the size, mtime and inode it had when it
 * was hashed: a short write, a truncation, a replaced or rewritten file (a hand, a restored
 * copy) changes one of them and the set is hashed again. What this cannot see is a change
 * that keeps all three (a bit flipped by the disk, an edit with its mtime set back); the sums
 * file travels with the set, so restore and `check` still catch that on the sink. The first
 * check, at the run after the one that wrote the set, is kept: it is what sees data a power
 * loss took from a disk whose cache ignored the fsyncs.
 *
 * A missing or damaged record only means every set is hashed again.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '@deaddrop/common/errors';
import { writeFileAtomic } from '@deaddrop/common/fs';
import type { Logger } from '@deaddrop/common/log';
import { spoolDamage, type OutgoingSet } from './deliver.js';

/** Per file name: [size, mtimeMs, inode] when the set was hashed. */
type SetMarks = Record<string, [number, number, number]>;

interface SpoolChecksFile {
  version: 1;
  sets: Record<string, SetMarks>;
}

export function spoolChecksPath(archiveDir: string): string {
  return join(archiveDir, 'spool-checked.json');
}

async function marksOf(set: OutgoingSet): Promise<SetMarks | undefined> {
  const marks: SetMarks = {};
  for (const f of set.files) {
    if (!f.inSpool) continue; // (on every sink: see spoolDamage)
    const st = await stat(join(set.dir, f.name)).catch(() => undefined);
    if (!st) return undefined;
    marks[f.name] = [st.size, st.mtimeMs, st.ino];
  }
  return marks;
}

function sameMarks(a: SetMarks, b: SetMarks): boolean {
  const names = Object.keys(a);
  if (names.length !== Object.keys(b).length) return false;
  // b comes from the record file: any shape
  return names.every((n) => Array.isArray(b[n]) && a[n]!.every((v, i) => v === b[n]![i]));
}

export class SpoolChecks {
  /** Sets checked or found unchanged this run: the only ones written back. */
  private readonly current = new Map<string, SetMarks>();

  private constructor(
    private readonly archiveDir: string,
    private readonly recorded: Map<string, SetMarks>,
  ) {}

  static async load(archiveDir: string): Promise<SpoolChecks> {
    const recorded = new Map<string, SetMarks>();
    try {
      const f = JSON.parse(await readFile(spoolChecksPath(archiveDir), 'utf8')) as SpoolChecksFile;
      if (f.version === 1 && f.sets && typeof f.sets === 'object')
        for (const [key, marks] of Object.entries(f.sets)) recorded.set(key, marks);
    } catch {
      // none yet or damaged: every spooled set is hashed
    }
    return new SpoolChecks(archiveDir, recorded);
  }

  /**
   * Why the set no longer matches its sums file, or undefined; a set unchanged since it last
   * matched is not read again.
   */
  async damage(set: OutgoingSet): Promise<string | undefined> {
    const before = await marksOf(set); // before hashing: a change while it is read is seen next run
    const last = this.recorded.get(set.key);
    if (before && last && sameMarks(before, last)) {
      this.current.set(set.key, before);
      return undefined;
    }
    const damage = await spoolDamage(set);
    if (damage === undefined && before) this.current.set(set.key, before);
    return damage;
  }

  /** Records the sets that matched this run (sets gone from the spool fall out). */
  async save(log: Logger): Promise<void> {
    const path = spoolChecksPath(this.archiveDir);
    const file: SpoolChecksFile = { version: 1, sets: Object.fromEntries(this.current) };
    try {
      await writeFileAtomic(path, JSON.stringify(file) + '\n', 0o600);
    } catch (err) {
      // costs only time: the next run hashes the spooled sets again
      log.warn(`${path}: cannot be written (${describeError(err)}): the next run hashes the spool again`, { path });
    }
  }
}
