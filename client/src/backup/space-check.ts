/**
 * Said before a set is written: the archive dir's file system has less room than a run may
 * need there. A run keeps up to MAX_AHEAD complete volumes for the sinks and writes one more
 * (early-upload.ts); with less free than that, a full is likely to fail for want of space part
 * way, which the operator should read at the top of the log, not only at the end. A warning
 * only: an incremental may need far less.
 */
import { statfs } from 'node:fs/promises';
import type { Logger } from '@deaddrop/common/log';
import { formatBytes } from '@deaddrop/common/units';
import { MAX_AHEAD } from './early-upload.js';

export async function warnIfShortOfSpace(archiveDir: string, volumeSize: number, log: Logger): Promise<void> {
  const st = await statfs(archiveDir).catch(() => undefined);
  if (!st) return; // (the writes will say what is wrong)
  const free = st.bavail * st.bsize;
  const volumes = MAX_AHEAD + 1;
  const needed = volumes * volumeSize;
  if (free >= needed) return;
  log.warn(
    `${archiveDir}: ${formatBytes(free)} free, a run may need ${formatBytes(needed)} there ` +
      `(${volumes} volumes of ${formatBytes(volumeSize)}): it may fail for want of space`,
    { path: archiveDir, freeBytes: free, neededBytes: needed },
  );
}
