/**
 * One process at a time per lock file: the file is created exclusively and names its owner
 * (pid, boot id, process start time). A lock whose owner is gone (killed, or a reboot since,
 * which reuses pids) is taken over; of several processes that find the same stale lock, only
 * one may replace it.
 */
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { LockedError } from './errors.js';

export interface PidLock {
  path: string;
  /** The previous owner had died: the lock was taken over, not simply created. */
  tookOver: boolean;
  release(): Promise<void>;
}

/** What identifies a process across pid reuse: its pid, the boot, and when it started. */
export interface Owner {
  pid: number;
  /** /proc/sys/kernel/random/boot_id; '' where there is no /proc. */
  boot: string;
  /** Field 22 of /proc/PID/stat (clock ticks since boot); '' where there is no /proc. */
  start: string;
}

/** A lock file that is this old and still empty was left by a creator killed mid-write. */
const EMPTY_LOCK_STALE_MS = 10_000;
/** A takeover token this old was left by a process killed mid-takeover. */
const TOKEN_STALE_MS = 30_000;
const RETRY_MS = 50;
const ATTEMPTS = 200;

function readProc(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function startTime(pid: number): string {
  // the command name (field 2) is in parentheses and may hold spaces: count after the last ')'
  const stat = readProc(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

export function currentOwner(): Owner {
  return { pid: process.pid, boot: readProc('/proc/sys/kernel/random/boot_id').trim(), start: startTime(process.pid) };
}

export function formatOwner(o: Owner): string {
  return `${o.pid}\n${o.boot}\n${o.start}\n`;
}

/** The owner a lock file names; a file of older versions holds the pid alone. */
export function parseOwner(text: string): Owner | undefined {
  const [pid, boot = '', start = ''] = text.split('\n');
  const n = Number(pid);
  return Number.isInteger(n) && n > 0 ? { pid: n, boot, start } : undefined;
}

/** Whether the process a lock names still runs: same boot, pid alive, same start time. */
export function ownerAlive(o: Owner, here: Owner = currentOwner()): boolean {
  if (o.boot && here.boot && o.boot !== here.boot) return false;
  try {
    process.kill(o.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !(o.start && here.start && startTime(o.pid) !== o.start);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ageMs(path: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Remove a stale lock, if it still holds exactly `seen`. The token (one per dead pid) makes
 * the check-and-remove atomic among takers: a process that read `seen` long ago and gets the
 * token after another already replaced the lock finds a different text and leaves it alone.
 */
async function removeStale(path: string, seen: string, pid: number): Promise<void> {
  const token = `${path}.takeover-${pid}`;
  try {
    await (await open(token, 'wx', 0o600)).close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    if (((await ageMs(token)) ?? 0) > TOKEN_STALE_MS) await unlink(token).catch(() => {});
    return;
  }
  try {
    const now = await readFile(path, 'utf8').catch(() => undefined);
    if (now === seen) await unlink(path).catch(() => {});
  } finally {
    await unlink(token).catch(() => {});
  }
}

/**
 * Take the lock at `path` or throw LockedError naming the live owner; `holder` says who that
 * is in the message ("another backup run").
 */
export async function acquirePidLock(path: string, holder: string): Promise<PidLock> {
  const me = currentOwner();
  let tookOver = false;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(formatOwner(me));
      } finally {
        await fh.close();
      }
      return { path, tookOver, release: () => unlink(path).catch(() => {}) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined) continue; // removed meanwhile: try again at once
    const owner = parseOwner(text);
    if (owner === undefined) {
      // empty: its creator is writing it now, or was killed doing so long ago
      if (((await ageMs(path)) ?? 0) > EMPTY_LOCK_STALE_MS) await removeStale(path, text, 0);
      else await sleep(RETRY_MS);
      continue;
    }
    if (owner.pid !== me.pid && ownerAlive(owner, me))
      throw new LockedError(`${holder} (pid ${owner.pid}) holds ${path}`);
    tookOver = true;
    await removeStale(path, text, owner.pid);
    await sleep(Math.random() * RETRY_MS);
  }
  throw new LockedError(`cannot take the lock ${path}: it keeps changing`);
}
