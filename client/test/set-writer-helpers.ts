/**
 * The set writer (writeEntriesParallel) driven directly, with the worker pool behind a hook:
 * what the backup does between its plan and the set's files, without a scan or a sink.
 */
import { join } from 'node:path';
import type { JobPool } from '@deaddrop/client/backup/job-pool';
import { ManifestWriter } from '@deaddrop/client/backup/manifest-writer';
import { writeEntriesParallel } from '@deaddrop/client/backup/parallel-writer';
import type { Action } from '@deaddrop/client/backup/plan';
import { SigtarWriter } from '@deaddrop/client/backup/sigtar-writer';
import { VolumeWriter } from '@deaddrop/client/backup/volume-writer';
import { loadOwnerNames } from '@deaddrop/client/scan/owners';
import type { Recipient } from '@deaddrop/keys/recipients';

/** `workers` with each job passed through `run` (which may note or delay it). */
export function poolAround(workers: JobPool, run: JobPool['run']): JobPool {
  return {
    workers: workers.workers,
    get inline() {
      return workers.inline;
    },
    run,
    close: () => workers.close(),
  };
}

/**
 * Write `actions` as a set of `src` into `out` (vol1..., signatures.tar.gz, manifest) through
 * `pool`, which is closed after; returns the problems reported as [kind, path].
 */
export async function writeSet(
  out: string,
  src: string,
  recipients: Recipient[],
  pool: JobPool,
  actions: AsyncIterable<Action>,
): Promise<string[][]> {
  const volumes = new VolumeWriter({
    pathOf: (n) => join(out, `vol${n}`),
    recipients,
    volumeSize: 200 << 20,
    level: 6,
  });
  const sigtar = new SigtarWriter(join(out, 'signatures.tar.gz'), join(out, 'signatures.p7m'), recipients);
  const manifest = new ManifestWriter({ hostname: 'h', localdir: Buffer.from(src) }, join(out, 'filelist'));
  const problems: string[][] = [];
  try {
    const onProblem = (p: { kind: string; path: Buffer }) => void problems.push([p.kind, p.path.toString()]);
    await writeEntriesParallel(actions, { volumes, sigtar, manifest, owners: loadOwnerNames(), onProblem }, pool, 6);
  } finally {
    await pool.close();
  }
  await volumes.finish();
  await sigtar.finish();
  await manifest.writeTo(join(out, 'manifest'));
  return problems;
}
