/**
 * The local cache's durability and integrity. Its files are fsync'ed (with the directory)
 * before the state names them, so a crash cannot leave a recorded chain with short files; and
 * a chain's signature archives are read through (gzip checks its CRC and length) before an
 * incremental relies on them, so a damaged one means a full backup, not a failed run.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { describeError } from '@deaddrop/common/errors';

export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    /* some file systems cannot fsync a directory */
  } finally {
    await fh.close();
  }
}

/** Why a gzip'ed cache file cannot be read to its end, or undefined when it can. */
export async function unreadableGzip(path: string): Promise<string | undefined> {
  const discard = new Writable({ write: (_chunk, _enc, done) => done() });
  try {
    await pipeline(createReadStream(path), createGunzip(), discard);
    return undefined;
  } catch (err) {
    return describeError(err);
  }
}
