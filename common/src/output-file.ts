import { createWriteStream, unlinkSync } from 'node:fs';
import { link, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UsageError } from './errors.js';

/** A readable, or a function that writes the input into the first transform and ends it. */
export type Source = Readable | ((first: Transform) => Promise<void>);

/** source -> transforms -> dest; resolves when dest has everything. */
export async function pipeInto(source: Source, transforms: Transform[], dest: Writable): Promise<void> {
  if (typeof source !== 'function') return pipeline([source, ...transforms, dest]);
  await Promise.all([source(transforms[0]!), pipeline([...transforms, dest] as [Transform, ...Transform[], Writable])]);
}

/** What writeThroughTemp does with an existing regular file at `outPath`. */
export interface OutputOptions {
  /** False: refuse it, before any work and again atomically at the end (as rdiff does without -f). */
  overwrite?: boolean;
}

/** The error for an output file that exists and may not be replaced. */
export function outputExists(outPath: string): UsageError {
  return new UsageError(`${outPath}: exists; refusing to overwrite it (--force to replace it)`);
}

/** Throws outputExists when `outPath` is an existing regular file (devices and fifos are written in place). */
export async function refuseExisting(outPath: string): Promise<void> {
  const existing = await stat(outPath).catch(() => undefined);
  if (existing?.isFile()) throw outputExists(outPath);
}

/** Move `temp` to `outPath` unless something is there: link() refuses atomically where links exist. */
async function publishWithoutReplacing(temp: string, outPath: string): Promise<void> {
  try {
    await link(temp, outPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw outputExists(outPath);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    await refuseExisting(outPath); // no hard links here (FAT, some FUSE): check, then rename
    await rename(temp, outPath);
    return;
  }
  await unlink(temp);
}

/**
 * Temp files being written. A decrypted one holds plaintext (a backup's /etc/shadow), so a
 * signal that stops the process (Ctrl-C, systemctl stop, a closed terminal) removes them first,
 * and is then raised again for its default action (the exit status names the signal).
 */
const pendingTemps = new Set<string>();
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function removeTempsAndStop(signal: NodeJS.Signals): void {
  for (const temp of pendingTemps) {
    try {
      unlinkSync(temp);
    } catch {
      // gone already (renamed into place just now)
    }
  }
  pendingTemps.clear();
  for (const s of STOP_SIGNALS) process.removeListener(s, removeTempsAndStop);
  process.kill(process.pid, signal);
}

function trackTemp(temp: string): void {
  if (pendingTemps.size === 0) for (const s of STOP_SIGNALS) process.on(s, removeTempsAndStop);
  pendingTemps.add(temp);
}

function untrackTemp(temp: string): void {
  pendingTemps.delete(temp);
  if (pendingTemps.size === 0) for (const s of STOP_SIGNALS) process.removeListener(s, removeTempsAndStop);
}

/** A clear error, before any work, for an output path that cannot become a file. */
async function checkOutputPath(outPath: string, existing: Awaited<ReturnType<typeof stat>> | undefined) {
  if (existing?.isDirectory()) throw new UsageError(`${outPath}: is a directory; give a file name`);
  const dir = dirname(outPath);
  const parent = await stat(dir).catch(() => undefined);
  if (!parent?.isDirectory())
    throw new UsageError(`${dir}: ${parent ? 'is not a directory' : 'no such directory'} (for ${outPath})`);
}

/**
 * Stream `source` through `transforms` into `outPath` so that `outPath` appears only when
 * everything succeeded: the bytes go to a temp file in the same directory, which is fsync'ed
 * and renamed over `outPath` (or linked, when it may not be replaced: that fails if a file
 * appeared meanwhile), and removed on any error or stopping signal. An existing `outPath` that is not a regular
 * file (/dev/null, a fifo, a tape) is written in place: renaming over it would replace the
 * device node.
 */
export async function writeThroughTemp(
  source: Source,
  transforms: Transform[],
  outPath: string,
  mode = 0o600,
  opts: OutputOptions = {},
): Promise<void> {
  const existing = await stat(outPath).catch(() => undefined);
  if (existing && !existing.isFile() && !existing.isDirectory())
    return pipeInto(source, transforms, createWriteStream(outPath, { flags: 'w' }));
  await checkOutputPath(outPath, existing);
  const overwrite = opts.overwrite ?? true;
  if (existing?.isFile() && !overwrite) throw outputExists(outPath);
  // unique enough: 'wx' below refuses a name that exists (node:crypto would add ~6 ms to start-up)
  const unique = `${process.pid}.${Math.random().toString(36).slice(2, 10)}`;
  const temp = join(dirname(outPath), `.${basename(outPath)}.${unique}.partial`);
  trackTemp(temp);
  try {
    await pipeInto(source, transforms, createWriteStream(temp, { flags: 'wx', mode }));
    const handle = await open(temp, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (overwrite) await rename(temp, outPath);
    else await publishWithoutReplacing(temp, outPath);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  } finally {
    untrackTemp(temp);
  }
}
