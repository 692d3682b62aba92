import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** A readable, or a function that writes the input into the first transform and ends it. */
export type Source = Readable | ((first: Transform) => Promise<void>);

/** source -> transforms -> dest; resolves when dest has everything. */
export async function pipeInto(source: Source, transforms: Transform[], dest: Writable): Promise<void> {
  if (typeof source !== 'function') return pipeline([source, ...transforms, dest]);
  await Promise.all([source(transforms[0]!), pipeline([...transforms, dest] as [Transform, ...Transform[], Writable])]);
}

/**
 * Stream `source` through `transforms` into `outPath` so that `outPath` appears only when
 * everything succeeded: the bytes go to a temp file in the same directory, which is fsync'ed
 * and renamed over `outPath`, and removed on any error. An existing `outPath` that is not a
 * regular file (/dev/null, a fifo, a tape) is written in place: renaming over it would
 * replace the device node.
 */
export async function writeThroughTemp(
  source: Source,
  transforms: Transform[],
  outPath: string,
  mode = 0o600,
): Promise<void> {
  const existing = await stat(outPath).catch(() => undefined);
  if (existing && !existing.isFile() && !existing.isDirectory())
    return pipeInto(source, transforms, createWriteStream(outPath, { flags: 'w' }));
  const temp = join(dirname(outPath), `.${basename(outPath)}.${randomBytes(6).toString('hex')}.partial`);
  try {
    await pipeInto(source, transforms, createWriteStream(temp, { flags: 'wx', mode }));
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
