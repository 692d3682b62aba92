/**
 * One backup run at a time per archive directory (common/src/pid-lock.ts: a lock file naming
 * its owner; a dead owner's lock is taken over).
 */
import { join } from 'node:path';
import { acquirePidLock } from '@deaddrop/common/pid-lock';

export interface Lock {
  path: string;
  release(): Promise<void>;
}

export async function acquireLock(dir: string): Promise<Lock> {
  const lock = await acquirePidLock(join(dir, 'lock'), 'another backup run');
  // A set is named by the second its run started. The killed run whose lock this was may have
  // started this very second and sent some of its files already: a set of ours named alike
  // would meet them on the sinks. Start in a later second than it.
  if (lock.tookOver) await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 1));
  return lock;
}
