/**
 * One backup run at a time per archive directory: a lock file created exclusively, holding the
 * owner's pid. A lock whose pid no longer runs (a killed run) is taken over.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { LockedError } from '@deaddrop/common/errors';

export interface Lock {
  path: string;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function acquireLock(dir: string): Promise<Lock> {
  const path = join(dir, 'lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return {
        path,
        release: async () => {
          await unlink(path).catch(() => {});
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    const pid = Number(text.trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
      throw new LockedError(`another backup run (pid ${pid}) holds ${path}`);
    if (text === '' && attempt === 0) {
      // being written right now by another run: look again shortly
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    await unlink(path).catch(() => {}); // stale: its run is gone
  }
  throw new LockedError(`cannot take the lock ${path}`);
}
