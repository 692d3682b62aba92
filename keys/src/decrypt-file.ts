import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable, Transform } from 'node:stream';
import { createDecryptStream } from './cms/decrypt.js';
import type { PrivateKey } from './private-key.js';

/**
 * Stream `source` through `transforms` into `outPath` so that `outPath` appears only when
 * everything succeeded: the bytes go to a temp file in the same directory, which is fsync'ed
 * and renamed over `outPath`, and removed on any error.
 */
export async function writeThroughTemp(
  source: Readable,
  transforms: Transform[],
  outPath: string,
  mode = 0o600,
): Promise<void> {
  const temp = join(dirname(outPath), `.${basename(outPath)}.${randomBytes(6).toString('hex')}.partial`);
  try {
    await pipeline([source, ...transforms, createWriteStream(temp, { flags: 'wx', mode })]);
    const handle = await open(temp, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, outPath);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
}

/** Decrypt the CMS file `inPath` into `outPath` (temp file + rename: no partial output on failure). */
export async function decryptFile(inPath: string, outPath: string, key: PrivateKey): Promise<void> {
  await writeThroughTemp(createReadStream(inPath), [createDecryptStream(key, { name: inPath })], outPath);
}
