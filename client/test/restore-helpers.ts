/**
 * A deaddrop chain of the awkward tree for the restore tests: a full and up to 3 incrementals
 * to two file:// sinks, with a copy (`cp -a`) of the source at each point in time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  makeAwkwardTree,
  makeTestRecipient,
  mutateTree,
  runDeaddrop,
  seededBytes,
  type TestRecipient,
} from '@deaddrop/test';

export interface Snapshot {
  /** The backup's time as the backup reported it (ISO). */
  time: string;
  /** A copy of the source taken right after the backup. */
  dir: string;
}

export interface Chain {
  tmp: string;
  src: string;
  key: TestRecipient;
  /** Sink roots (each holds testhost/). */
  sinks: string[];
  config: string;
  snapshots: Snapshot[];
}

/** A third day of changes (mutateTree has two): type changes both ways, a delta inside a big file, a dir chmod. */
export function mutateStep3(dir: string): void {
  const t = 1577934245 + 3 * 86400;
  const huge = seededBytes('huge', 1_500_000);
  seededBytes('patch-huge', 100_000).copy(huge, 500_000);
  seededBytes('patch-huge-3', 4096).copy(huge, 1_200_000);
  writeFileSync(join(dir, 'huge.bin'), huge);
  utimesSync(join(dir, 'huge.bin'), t, t);
  rmSync(join(dir, 'fifo1.d'), { recursive: true });
  symlinkSync('huge.bin', join(dir, 'fifo1.d')); // directory → symlink
  rmSync(join(dir, 'newfile.txt'));
  mkdirSync(join(dir, 'newfile.txt')); // file → directory
  writeFileSync(join(dir, 'newfile.txt', 'inside'), 'inside\n');
  utimesSync(join(dir, 'newfile.txt', 'inside'), t, t);
  utimesSync(join(dir, 'newfile.txt'), t, t);
  chmodSync(join(dir, 'emptydir'), 0o750);
  rmSync(join(dir, 'app.log'));
  utimesSync(dir, t, t);
}

export async function makeChain(
  tmp: string,
  opts: { incrementals?: number; volumeSize?: string; sinks?: number } = {},
): Promise<Chain> {
  const src = join(tmp, 'src');
  mkdirSync(src);
  makeAwkwardTree(src);
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const sinks = ['sinkA', 'sinkB'].slice(0, opts.sinks ?? 2).map((s) => join(tmp, s));
  for (const s of sinks) mkdirSync(join(s, 'testhost'), { recursive: true });
  const config = join(tmp, 'client.json');
  writeFileSync(
    config,
    JSON.stringify({
      host: 'testhost',
      sources: [src],
      recipients: [key.certPath],
      sinks: sinks.map((s, i) => ({ name: `s${i}`, url: `file://${s}/testhost/` })),
      archiveDir: join(tmp, 'archive'),
      volumeSize: opts.volumeSize ?? '512KiB',
    }),
  );
  const snapshots: Snapshot[] = [];
  for (let step = 0; step <= (opts.incrementals ?? 3); step++) {
    if (step === 3) mutateStep3(src);
    else if (step > 0) mutateTree(src, step);
    const r = await runDeaddrop(['backup', '--config', config, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    const result = JSON.parse(lines[lines.length - 1]!) as { result: string; time: string };
    assert.equal(result.result, 'ok', r.stdout);
    const snap = join(tmp, `snap${step}`);
    const cp = spawnSync('cp', ['-a', src, snap]);
    assert.equal(cp.status, 0, cp.stderr.toString());
    snapshots.push({ time: result.time, dir: snap });
  }
  return { tmp, src, key, sinks, config, snapshots };
}

/** A copy of the chain's host directory on its first sink, in a new directory under `into`: to damage. */
export function copyHostDir(chain: Chain, into: string): string {
  const dir = mkdtempSync(join(into, 'case-'));
  assert.equal(spawnSync('cp', ['-a', join(chain.sinks[0]!, 'testhost'), dir]).status, 0);
  return join(dir, 'testhost');
}
