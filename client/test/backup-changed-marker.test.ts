/**
 * A file that changed while a job read it is stored with mtime 0 in its signature entry, so the
 * next incremental reads it again. A file whose real mtime is 0 or before (a tarball extracted
 * with SOURCE_DATE_EPOCH=0) must not match that marker through duplicity's "times <= 0 are
 * equal" rule, or its torn copy is never replaced. Other objects keep duplicity's rule.
 */
import assert from 'node:assert/strict';
import { mkdirSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { runJob } from '@deaddrop/client/backup/job-exec';
import { mergedSignatures } from '@deaddrop/client/backup/old-signatures';
import { planActions } from '@deaddrop/client/backup/plan';
import type { ScanEntry } from '@deaddrop/client/scan/entry';
import { scannedEntry } from './scan-helpers.js';
import { loadOwnerNames } from '@deaddrop/client/scan/owners';
import { md4Blocks } from '@deaddrop/client/rsync/md4-lanes';
import { seededText, tempDir } from '@deaddrop/test';

const owners = loadOwnerNames();

function scanned(dir: string, name: string): ScanEntry {
  return scannedEntry(join(dir, name), name);
}

async function* listed(entries: ScanEntry[]): AsyncGenerator<ScanEntry> {
  yield* entries;
}

/** The plan's actions for `now` against a signature archive of `sigtar` (a job's share). */
async function plan(dir: string, sigtar: Uint8Array, now: ScanEntry[]): Promise<string[][]> {
  const file = join(dir, 'signatures.tar.gz');
  writeFileSync(file, gzipSync(Buffer.concat([sigtar, Buffer.alloc(1024)])));
  const out: string[][] = [];
  for await (const a of planActions(listed(now), mergedSignatures([file]), owners))
    out.push([a.op, a.op === 'deleted' ? a.index.join('/') : a.entry.index.join('/')]);
  return out;
}

/** A job reads pkg.dat torn (mtime 0 throughout); the plan's actions once it is whole, at `finalMtime`. */
async function tornThenComplete(finalMtime: number): Promise<string[][]> {
  const dir = tempDir('deaddrop-changed-marker-');
  const src = join(dir, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  const file = join(src, 'pkg.dat');
  writeFileSync(file, seededText('pkg', 20_000));
  utimesSync(file, 0, 0);
  utimesSync(join(src, 'd'), 0, 0);
  const items = [scanned(src, 'd'), scanned(src, 'pkg.dat')];
  // the extractor is still writing: the job reads 5000 bytes of the 20000 scanned
  truncateSync(file, 5000);
  utimesSync(file, 0, 0);
  const r = runJob(
    {
      id: 0,
      level: 6,
      items: [
        { kind: 'meta', entry: items[0]! },
        { kind: 'file', entry: items[1]!, change: 'new', hadOld: false, oldWasFile: false },
      ],
    },
    { owners, strong: md4Blocks },
  );
  assert.deepEqual(
    r.problems.map((p) => p.kind),
    ['changed'],
  );

  // whole now, with the archived mtime; the directory (stored with mtime 0) is unchanged
  writeFileSync(file, seededText('pkg', 20_000));
  const at = new Date(finalMtime * 1000); // a negative number would be taken as now
  utimesSync(file, at, at);
  utimesSync(join(src, 'd'), at, at);
  return plan(dir, r.sigtar, [scanned(src, 'd'), scanned(src, 'pkg.dat')]);
}

test('a file with mtime 0 stored "changed while read" is read again by the next incremental', async () => {
  assert.deepEqual(await tornThenComplete(0), [['changed', 'pkg.dat']]);
});

test('so is one with a negative mtime (stored as 0); a directory keeps duplicity’s "<= 0 are equal"', async () => {
  assert.deepEqual(await tornThenComplete(-100), [['changed', 'pkg.dat']]);
});
