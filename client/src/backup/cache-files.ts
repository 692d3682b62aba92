/**
 * The local cache's integrity: a chain's signature archives are checked before an incremental
 * relies on them, so a damaged one means a full backup, not a failed run. The state records
 * each one's SHA-1 as written, and hashing is quick (11 MB for the 1 GiB bench set: ~15 ms,
 * against ~180 ms to inflate it); a state of an older version has none, and then the archive is
 * read through instead (gzip checks its CRC and length). (Their durability: run.ts fsyncs
 * them, and the directory, before the state names them.)
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { describeError } from '@deaddrop/common/errors';

/** Why a cached signature archive cannot be relied on, or undefined when it can. */
export async function cacheFileDamage(path: string, sha1: string | undefined): Promise<string | undefined> {
  if (sha1 === undefined) return unreadableGzip(path);
  const hash = createHash('sha1');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  } catch (err) {
    return describeError(err);
  }
  return hash.digest('hex') === sha1 ? undefined : 'its SHA-1 is not the one recorded when it was written';
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
