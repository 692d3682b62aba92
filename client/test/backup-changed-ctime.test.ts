/**
 * A file rewritten after the scan with its size and mtime put back (utimes after writing, as
 * some tools do, or a hand that hides its change) still has a new ctime, which nobody can set
 * back. A job that reads such a file must report it as changed while read and store it with
 * mtime 0 in its signature entry, as for a change of size or mtime: whole files, diffs, and a
 * large file read in ranges that is rewritten between two of its ranges (a torn copy: old bytes,
 * then new ones), by a job alone and through the worker threads and the set writer.
 */
import assert from 'node:assert/strict';
import { closeSync, lstatSync, mkdirSync, openSync, readFileSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { runJob } from '@deaddrop/client/backup/job-exec';
import { createJobPool } from '@deaddrop/client/backup/job-pool';
import type { Action } from '@deaddrop/client/backup/plan';
import type { Job, JobItem, JobResult } from '@deaddrop/client/backup/jobs';
import { RANGE_FILE, rangeChunks } from '@deaddrop/client/backup/jobs';
import { SignatureBuilder } from '@deaddrop/client/backup/signature-builder';
import { readTarEntries } from '@deaddrop/client/backup/tar-entries';
import { duplicitySignatureParams } from '@deaddrop/client/rsync/magic';
import { md4Blocks } from '@deaddrop/client/rsync/md4-lanes';
import { pythonMtime, type ScanEntry } from '@deaddrop/client/scan/entry';
import { scannedEntry } from './scan-helpers.js';
import { poolAround, writeSet } from './set-writer-helpers.js';
import { loadOwnerNames } from '@deaddrop/client/scan/owners';
import { loadRecipients } from '@deaddrop/keys/recipients';
import { makeTestRecipient, missingTools, seededBytes, tempDir } from '@deaddrop/test';

const ctx = { owners: loadOwnerNames(), strong: md4Blocks };
/** The file's mtime, before and after the rewrite (whole seconds, as the scan compares them). */
const MTIME = 1_600_000_000;

/** What the scan records (walk.ts). */
const scanned = (path: string): ScanEntry => scannedEntry(path, 'f');

function fileWith(dir: string, data: Buffer): string {
  const path = join(dir, 'f');
  writeFileSync(path, data);
  utimesSync(path, MTIME, MTIME);
  return path;
}

/**
 * Overwrites the file in place with bytes of the same length and puts its mtime back: only its
 * ctime tells. (Written again until the ctime moves: file times tick in clock ticks, and the
 * scan may have been in the same tick.)
 */
function rewriteHidden(path: string, data: Buffer, scannedCtime: bigint): void {
  do {
    const fd = openSync(path, 'r+');
    writeSync(fd, data, 0, data.length, 0);
    closeSync(fd);
    utimesSync(path, MTIME, MTIME);
  } while (lstatSync(path, { bigint: true }).ctimeNs === scannedCtime);
  const st = lstatSync(path, { bigint: true });
  assert.equal(Number(st.size), data.length);
  assert.equal(pythonMtime(st), MTIME, 'size and mtime are as scanned');
}

const job = (id: number, items: JobItem[]): Job => ({ id, level: 6, items });

/** The signature-archive entries of a job (name, mtime). */
async function sigEntries(r: JobResult | Buffer): Promise<{ name: string; mtime: number }[]> {
  const out: { name: string; mtime: number }[] = [];
  const tar = Buffer.isBuffer(r) ? r : Buffer.from(r.sigtar);
  for await (const e of readTarEntries(Readable.from([tar]))) {
    out.push({ name: e.header.name.toString(), mtime: e.header.mtime });
    await e.read();
  }
  return out;
}

const volumeTar = (rs: JobResult[]) =>
  Buffer.concat(rs.flatMap((r) => r.members.map((m) => (m.raw ? Buffer.from(m.data) : gunzipSync(m.data)))));

test('a small file rewritten after the scan, its size and mtime put back, is reported and stored with mtime 0', async () => {
  const dir = tempDir('deaddrop-changed-ctime-');
  const path = fileWith(dir, seededBytes('old', 50_000));
  const e = scanned(path);
  rewriteHidden(path, seededBytes('new', 50_000), e.ctimeNs);

  const r = runJob(job(0, [{ kind: 'file', entry: e, change: 'new', hadOld: false, oldWasFile: false }]), ctx);
  assert.deepEqual(
    r.problems.map((p) => [p.kind, Buffer.from(p.path).toString()]),
    [['changed', path]],
  );
  assert.deepEqual(await sigEntries(r), [{ name: 'signature/f', mtime: 0 }], 'taken again next run');
});

test('so is a small changed file sent as a diff', async () => {
  const dir = tempDir('deaddrop-changed-ctime-');
  const oldData = seededBytes('old', 50_000);
  const params = duplicitySignatureParams(oldData.length);
  const sig = new SignatureBuilder(params, md4Blocks, true);
  sig.update(oldData);
  const oldSignature = new Uint8Array(sig.finish());
  const path = fileWith(
    dir,
    Buffer.concat([oldData.subarray(0, 20_000), seededBytes('mid', 10_000), oldData.subarray(30_000)]),
  );
  const e = scanned(path);
  rewriteHidden(path, seededBytes('new', 50_000), e.ctimeNs);

  const r = runJob(job(0, [{ kind: 'diff', entry: e, oldSignature }]), ctx);
  assert.deepEqual(
    r.problems.map((p) => p.kind),
    ['changed'],
  );
  assert.deepEqual(await sigEntries(r), [{ name: 'signature/f', mtime: 0 }]);
});

test('an untouched file is not reported (its ctime is as scanned)', async () => {
  const dir = tempDir('deaddrop-changed-ctime-');
  const path = fileWith(dir, seededBytes('old', 50_000));
  const r = runJob(
    job(0, [{ kind: 'file', entry: scanned(path), change: 'new', hadOld: false, oldWasFile: false }]),
    ctx,
  );
  assert.deepEqual(r.problems, []);
  assert.deepEqual(await sigEntries(r), [{ name: 'signature/f', mtime: MTIME }]);
});

test('a large file rewritten between two of its ranges (a torn copy) is reported by the later range', async () => {
  const dir = tempDir('deaddrop-changed-ctime-');
  const size = 3 * RANGE_FILE + 12_345;
  const oldData = seededBytes('old', size);
  const newData = seededBytes('new', size);
  const path = fileWith(dir, oldData);
  const e = scanned(path);
  const total = Math.floor(size / 65536) + 1;
  const step = rangeChunks(duplicitySignatureParams(size).blockLen);
  assert.ok(step < total, 'more than one range');

  // the first range reads the old bytes, untouched; then the file is rewritten, then the rest
  const first = runJob(job(0, [{ kind: 'range', entry: e, from: 0, to: step }]), ctx);
  assert.equal(first.range!.changed, false);
  rewriteHidden(path, newData, e.ctimeNs);
  const rest: JobResult[] = [];
  for (let from = step; from < total; from += step)
    rest.push(runJob(job(rest.length + 1, [{ kind: 'range', entry: e, from, to: Math.min(total, from + step) }]), ctx));

  // what was stored is torn: old bytes then new ones; the ranges must say so
  const tar = volumeTar([first, ...rest]);
  assert.ok(tar.includes(oldData.subarray(0, 4096)) && tar.includes(newData.subarray(size - 4096)), 'a torn copy');
  assert.ok(
    rest.every((r) => r.range!.changed),
    `ranges read after the rewrite report it: ${rest.map((r) => r.range!.changed).join(' ')}`,
  );
  assert.ok(readFileSync(path).equals(newData));
});

test('a large changed file sent as delta ranges, rewritten between two of them, is reported', async () => {
  const dir = tempDir('deaddrop-changed-ctime-');
  const size = 2 * RANGE_FILE + 777;
  const oldData = seededBytes('old', size);
  const params = duplicitySignatureParams(size);
  const sig = new SignatureBuilder(params, md4Blocks, true);
  sig.update(oldData);
  const signature = sig.finish();
  const oldSignature = new Uint8Array(new SharedArrayBuffer(signature.length));
  oldSignature.set(signature);
  const path = fileWith(dir, Buffer.concat([seededBytes('head', 1000), oldData.subarray(1000)]));
  const e = scanned(path);
  const half = Math.ceil(size / 2 / params.blockLen) * params.blockLen;
  const range = (from: number, to: number): JobItem => ({
    kind: 'delta-range',
    entry: e,
    from,
    to,
    sigKey: 0,
    oldSignature,
  });

  const first = runJob(job(0, [range(0, half)]), ctx);
  assert.equal(first.range!.changed, false);
  rewriteHidden(path, seededBytes('new', size), e.ctimeNs);
  const second = runJob(job(1, [range(half, size)]), ctx);
  assert.equal(second.range!.changed, true);
});

test(
  'through the worker threads: a large file torn between two ranges is reported and stored with mtime 0',
  { skip: missingTools('openssl') },
  async () => {
    const dir = tempDir('deaddrop-changed-ctime-');
    const src = join(dir, 'src');
    const out = join(dir, 'out');
    mkdirSync(src);
    mkdirSync(out);
    const size = 3 * RANGE_FILE + 12_345;
    const path = fileWith(src, seededBytes('old', size));
    const e = scanned(path);
    const key = await makeTestRecipient(join(dir, 'keys'), { bits: 2048 });
    const recipients = await loadRecipients([key.certPath]);

    // the workers' pool, with the file rewritten once the first range is read, before the second is
    const workers = await createJobPool(2);
    assert.equal(workers.workers, 2, 'worker threads, not inline');
    let first: Promise<JobResult> | undefined;
    const pool = poolAround(workers, (job) => {
      const item = job.items[0];
      if (item?.kind !== 'range') return workers.run(job);
      if (item.from === 0) return (first = workers.run(job));
      const before = first;
      first = undefined;
      if (!before) return workers.run(job);
      return before.then(() => {
        rewriteHidden(path, seededBytes('new', size), e.ctimeNs);
        return workers.run(job);
      });
    });
    async function* actions(): AsyncGenerator<Action> {
      yield { op: 'new', entry: e };
    }
    const problems = await writeSet(out, src, recipients, pool, actions());

    assert.deepEqual(problems, [['changed', path]]);
    const sig = gunzipSync(readFileSync(join(out, 'signatures.tar.gz')));
    assert.deepEqual(await sigEntries(sig), [{ name: 'signature/f', mtime: 0 }], 'taken again next run');
  },
);
