import { chmod, chown, open, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LockedError } from '@deaddrop/common/errors';
import { writeFileAtomic } from '@deaddrop/common/fs';
import { acquirePidLock, type PidLock } from '@deaddrop/common/pid-lock';
import { bcryptHash, generatePassword, parseHtpasswd, verifyHash } from './htpasswd.js';

export type EntryChange = 'added' | 'updated' | 'unchanged';

export interface EntryResult {
  change: EntryChange;
  /** The password made here for a user that had no entry (no password given). */
  generated?: string;
  /** The file was given `gid` (it was new, or had another group). */
  groupChanged: boolean;
  /** With `gid`: the mode the file had, when it was not HTPASSWD_MODE (now it is). */
  modeWas?: number;
}

/** Owner read-write, the group (the sink's: nginx, deaddrop-sink) read, nobody else. */
export const HTPASSWD_MODE = 0o640;

/** How long a run waits for another add-host's read-modify-write of the same file. */
const LOCK_WAIT_MS = 30_000;

/**
 * The lock of an htpasswd file: FILE.lock next to the file it names (through symlinks), so
 * runs given different paths to one file share it. A holder that died is taken over.
 */
async function lockHtpasswd(file: string): Promise<PidLock> {
  const real = await realpath(file).catch(async () => join(await realpath(dirname(file)), basename(file)));
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      return await acquirePidLock(`${real}.lock`, 'another sink add-host');
    } catch (err) {
      if (!(err instanceof LockedError) || Date.now() >= deadline) throw err;
      // held for a bcrypt hash and a rewrite: a short wait, jittered so waiters spread out
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
    }
  }
}

/**
 * Make sure `user` has an entry in the htpasswd file, keeping every other line as it was.
 * With a password: add it, or replace the entry when the password differs. Without: add one
 * with a generated password when missing. Written atomically, keeping the file's mode, owner
 * and group. With `gid`, the file gets that group and mode 0640 first (a new file is made empty
 * with them; an existing one is put back to them, as a first run would leave it), so that a
 * failure there writes no entry whose generated password nobody was shown. One run at a
 * time per file (FILE.lock); a run waits up to 30 s for another, then exits 3.
 */
export async function ensureHtpasswdEntry(
  file: string,
  user: string,
  password: string | undefined,
  cost: number,
  gid?: number,
): Promise<EntryResult> {
  // read-modify-write: concurrent runs would each keep only their own new line
  const lock = await lockHtpasswd(file);
  try {
    return await ensureEntryLocked(file, user, password, cost, gid);
  } finally {
    await lock.release();
  }
}

async function ensureEntryLocked(
  file: string,
  user: string,
  password: string | undefined,
  cost: number,
  gid: number | undefined,
): Promise<EntryResult> {
  let text = '';
  let mode = HTPASSWD_MODE;
  let existed = true;
  try {
    text = await readFile(file, 'utf8');
    mode = (await stat(file)).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    existed = false;
  }
  let groupChanged = false;
  let modeWas: number | undefined;
  if (gid !== undefined) {
    if (!existed) {
      const fh = await open(file, 'wx', HTPASSWD_MODE);
      try {
        await fh.chown(-1, gid);
        await fh.chmod(HTPASSWD_MODE); // not the umask's: the group must read it
      } finally {
        await fh.close();
      }
      groupChanged = true;
    } else {
      if ((await stat(file)).gid !== gid) {
        await chown(file, -1, gid);
        groupChanged = true;
      }
      // the group alone does not let nginx read a 0600 file: the mode converges too
      if (mode !== HTPASSWD_MODE) {
        await chmod(file, HTPASSWD_MODE);
        modeWas = mode;
        mode = HTPASSWD_MODE;
      }
    }
  }
  const modeNote = modeWas === undefined ? {} : { modeWas };
  const current = parseHtpasswd(text).get(user);
  if (current !== undefined && (password === undefined || (await verifyHash(password, current))))
    return { change: 'unchanged', groupChanged, ...modeNote };
  const generated = password === undefined ? generatePassword() : undefined;
  const line = `${user}:${bcryptHash((password ?? generated)!, cost)}`;
  const lines = text.split('\n').filter((l, i, all) => !(i === all.length - 1 && l === ''));
  let at = lines.findIndex((l) => l.startsWith(`${user}:`));
  if (at === -1) at = lines.push(line) - 1;
  else lines[at] = line;
  // further lines of the user: none may keep an old password alive for another reader of the file
  const kept = lines.filter((l, i) => i <= at || !l.startsWith(`${user}:`));
  await writeFileAtomic(file, kept.join('\n') + '\n', mode);
  const result: EntryResult = { change: current === undefined ? 'added' : 'updated', groupChanged, ...modeNote };
  if (generated !== undefined) result.generated = generated;
  return result;
}
