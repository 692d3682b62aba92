import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '@deaddrop/common/fs';
import { bcryptHash, parseHtpasswd, verifyHash } from './htpasswd.js';

export type EntryChange = 'added' | 'updated' | 'unchanged';

/**
 * Make sure `user` has an entry in the htpasswd file, keeping every other line as it was.
 * With a password: add it, or replace the entry when the password differs. Without: add only
 * when missing (the caller generated one). Written atomically, keeping the file's mode.
 */
export async function ensureHtpasswdEntry(
  file: string,
  user: string,
  password: string | undefined,
  cost: number,
): Promise<EntryChange> {
  let text = '';
  let mode = 0o640;
  try {
    text = await readFile(file, 'utf8');
    mode = (await stat(file)).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const current = parseHtpasswd(text).get(user);
  if (current !== undefined && (password === undefined || (await verifyHash(password, current)))) return 'unchanged';
  if (password === undefined) throw new Error('a new htpasswd entry needs a password');
  const line = `${user}:${bcryptHash(password, cost)}`;
  const lines = text.split('\n').filter((l, i, all) => !(i === all.length - 1 && l === ''));
  let at = lines.findIndex((l) => l.startsWith(`${user}:`));
  if (at === -1) at = lines.push(line) - 1;
  else lines[at] = line;
  // further lines of the user: none may keep an old password alive for another reader of the file
  const kept = lines.filter((l, i) => i <= at || !l.startsWith(`${user}:`));
  await writeFileAtomic(file, kept.join('\n') + '\n', mode);
  return current === undefined ? 'added' : 'updated';
}

/** Whether the file already has an entry for user. */
export async function hasHtpasswdEntry(file: string, user: string): Promise<boolean> {
  try {
    return parseHtpasswd(await readFile(file, 'utf8')).has(user);
  } catch {
    return false;
  }
}
