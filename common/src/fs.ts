import { constants } from 'node:fs';
import { access, mkdir, open, stat } from 'node:fs/promises';
import writeFileAtomicLib from 'write-file-atomic';

/** Write a file so readers see the old or the new content, never a mix (temp + fsync + rename). */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await writeFileAtomicLib(
    path,
    typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    {
      mode,
      fsync: true,
    },
  );
}

/** fsync a file, so its content is on disk before anything names it. */
export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * fsync a directory, so an entry made or renamed in it survives a crash. File systems that
 * cannot sync a directory (EINVAL, ENOTSUP) are let be; an I/O error is not.
 */
export async function syncDir(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
  } finally {
    await fh.close();
  }
}

export async function ensureDir(path: string, mode = 0o755): Promise<void> {
  await mkdir(path, { recursive: true, mode });
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** Refuse a secret file that group or others can read (like ssh and curl --netrc-file users expect). */
export async function assertPrivateFile(path: string, what: string): Promise<void> {
  const st = await stat(path);
  if ((st.mode & 0o077) !== 0) {
    const { UsageError } = await import('./errors.js');
    throw new UsageError(
      `${what} ${path} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}; it must be 0600 (chmod 600 ${path})`,
    );
  }
}
