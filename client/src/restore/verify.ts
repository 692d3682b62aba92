/**
 * `deaddrop verify`: restore the backup at a time into a private temporary directory (with
 * every check restore makes), compare it with the live tree, remove it. The restore's warnings
 * are passed on; --against must be a directory (a usage error otherwise).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '@deaddrop/common/errors';
import { indexToBytes } from '../scan/path-index.js';
import { compareWithLive, type Difference } from './compare-live.js';
import type { KeySource } from './key.js';
import type { RestoreProgress } from './progress.js';
import { runRestore } from './restore.js';
import { parsePathArgument } from './path-arguments.js';

export interface VerifyOptions {
  from: string;
  host: string;
  netrc?: string;
  ca?: string;
  /** Debug-level messages (--verbose). */
  debug?: (message: string) => void;
  key: KeySource;
  against: string;
  time?: number;
  paths: string[];
  tmp?: string;
  /** The restore's progress (the comparison after it is quick). */
  onProgress?: (p: RestoreProgress) => void;
}

export interface VerifyReport {
  host: string;
  time: string;
  against: string;
  /** Objects of the backup compared with the live tree. */
  compared: number;
  differences: Difference[];
  /** The restore's warnings (e.g. an incomplete set left out). */
  warnings: string[];
}

/** --against must be a directory (a symlink to one will do): a typo is a usage error, not a difference. */
async function checkAgainst(against: string): Promise<void> {
  const st = await stat(against).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error)
    throw new UsageError(`--against ${against}: ${st.code === 'ENOENT' ? 'no such directory' : st.message}`);
  if (!st.isDirectory()) throw new UsageError(`--against ${against}: not a directory`);
}

export async function runVerify(o: VerifyOptions): Promise<VerifyReport> {
  await checkAgainst(o.against);
  const work = await mkdtemp(join(o.tmp ?? tmpdir(), 'deaddrop-verify-'));
  try {
    const dest = join(work, 'tree');
    const r = await runRestore({
      from: o.from,
      host: o.host,
      netrc: o.netrc,
      ca: o.ca,
      debug: o.debug,
      key: o.key,
      dest,
      scratch: true,
      time: o.time,
      paths: o.paths,
      onProgress: o.onProgress,
    });
    const owners = process.getuid?.() === 0;
    // the restore's paths, relative to the backup root (an absolute --path mapped)
    const roots = r.paths.length ? r.paths.map((p) => indexToBytes(parsePathArgument(p).index)) : [Buffer.alloc(0)];
    const differences: Difference[] = [];
    let compared = 0;
    for (const rel of roots) {
      const c = await compareWithLive(Buffer.from(dest), Buffer.from(o.against), { owners, rel });
      differences.push(...c.differences);
      compared += c.compared;
    }
    return { host: o.host, time: r.time, against: o.against, compared, differences, warnings: r.warnings };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
