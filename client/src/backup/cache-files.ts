/**
 * The local cache's integrity: a chain's signature archives are read through (gzip checks its
 * CRC and length) before an incremental relies on them, so a damaged one means a full backup,
 * not a failed run. (Their durability: run.ts fsyncs them, and the directory, before the state
 * names them.)
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { describeError } from '@deaddrop/common/errors';

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
