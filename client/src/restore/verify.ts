/**
 * `deaddrop verify`: restore the backup at a time into a private temporary directory (with
 * every check restore makes), compare it with the live tree, remove it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexToBytes } from '../scan/path-index.js';
import { compareWithLive, type Difference } from './compare-live.js';
import type { KeySource } from './key.js';
import type { RestoreProgress } from './progress.js';
import { pathArgument, runRestore } from './restore.js';

export interface VerifyOptions {
  from: string;
  host: string;
  netrc?: string;
  ca?: string;
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
  compared: number;
  differences: Difference[];
}

export async function runVerify(o: VerifyOptions): Promise<VerifyReport> {
  const work = await mkdtemp(join(o.tmp ?? tmpdir(), 'deaddrop-verify-'));
  try {
    const dest = join(work, 'tree');
    const r = await runRestore({
      from: o.from,
      host: o.host,
      netrc: o.netrc,
      ca: o.ca,
      key: o.key,
      dest,
      time: o.time,
      paths: o.paths,
      onProgress: o.onProgress,
    });
    const owners = process.getuid?.() === 0;
    const roots = o.paths.length ? o.paths.map((p) => indexToBytes(pathArgument(p))) : [Buffer.alloc(0)];
    const differences: Difference[] = [];
    for (const rel of roots)
      differences.push(...(await compareWithLive(Buffer.from(dest), Buffer.from(o.against), { owners, rel })));
    const s = r.stats;
    return {
      host: o.host,
      time: r.time,
      against: o.against,
      compared: s.files + s.dirs + s.links + s.special,
      differences,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
