/**
 * A spooled file that every sink has taken leaves the spool at once, so a set never needs the
 * archive dir's disk all at the same time: a full backup of 15 GB on a host with 10 GB free
 * would otherwise fail every month for want of space. What left is written down in the set's
 * directory (`.sent-everywhere`: one `SIZE NAME` line per file, appended and fsynced before
 * the file is unlinked), so the set's sums file still accounts for every name, and a sink
 * that lags behind the others is still confirmed against the whole set.
 *
 * A file leaves only when the sinks that took it are all the sinks of the host: one a sink
 * lacks stays for it, unless the set was given up for that sink (it failed during the run and
 * the set outgrew the spool's limit: early-upload.ts).
 */
import { appendFile, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { syncFile } from '@deaddrop/common/fs';

/** The record's name in a set's spool directory (a dotfile: never one of the set's stored names). */
export const SENT_EVERYWHERE = '.sent-everywhere';

/** Stored name → size of the files of the set in `dir` that left the spool (torn lines ignored). */
export async function readSentEverywhere(dir: string): Promise<Map<string, number>> {
  const left = new Map<string, number>();
  const text = await readFile(join(dir, SENT_EVERYWHERE), 'latin1').catch(() => '');
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\S+)$/.exec(line);
    if (m) left.set(m[2]!, Number(m[1]));
  }
  return left;
}

/** Write down that `name` (of `size` bytes) is on every sink that needs it, then unlink it from the spool. */
export async function leaveSpool(dir: string, name: string, size: number): Promise<void> {
  const record = join(dir, SENT_EVERYWHERE);
  await appendFile(record, `${size} ${name}\n`, { mode: 0o600 });
  await syncFile(record); // the line is on disk before the file is gone
  await unlink(join(dir, name));
}
