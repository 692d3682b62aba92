/**
 * A small changed file's delta, made by a backup job (what the worker threads run): rdiff is the
 * oracle for the delta (it patches the old file into the new one) and for the new signature.
 * A file gone before the job reads it becomes a deletion; one that shrank is reported and its
 * signature entry gets mtime 0, so the next run reads it again.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { runJob } from '@deaddrop/client/backup/job-exec';
import type { JobResult } from '@deaddrop/client/backup/jobs';
import { readTarEntries } from '@deaddrop/client/backup/tar-entries';
import { md4Blocks } from '@deaddrop/client/rsync/md4-lanes';
import type { ScanEntry } from '@deaddrop/client/scan/entry';
import { loadOwnerNames } from '@deaddrop/client/scan/owners';
import { missingTools, seededBytes, seededText, tempDir } from '@deaddrop/test';

const skip = missingTools('rdiff');
const ctx = { owners: loadOwnerNames(), strong: md4Blocks };
// duplicity's parameters below 1,024,000 bytes: MD4 and rollsum, 512-byte blocks, 8-byte strong sums
const rdiffSignature = (dir: string, file: string, out: string) =>
  execFileSync('rdiff', ['-H', 'md4', '-R', 'rollsum', '-b', '512', '-S', '8', 'signature', file, join(dir, out)]);

function entryOf(path: string, name: string, size = lstatSync(path).size): ScanEntry {
  const st = lstatSync(path);
  return {
    index: [Buffer.from(name)],
    path: Buffer.from(path),
    type: 'file',
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    mtime: Math.trunc(st.mtimeMs / 1000),
    size,
    ctimeNs: lstatSync(path, { bigint: true }).ctimeNs,
  };
}

function diffJob(entry: ScanEntry, oldSignature: Buffer): JobResult {
  return runJob({ id: 0, level: 6, items: [{ kind: 'diff', entry, oldSignature: new Uint8Array(oldSignature) }] }, ctx);
}

/** The tar entries of a job's volume share and of its signature-archive share. */
async function entries(tar: Buffer): Promise<{ name: string; mtime: number; data: Buffer }[]> {
  const out: { name: string; mtime: number; data: Buffer }[] = [];
  for await (const e of readTarEntries(Readable.from([tar])))
    out.push({ name: e.header.name.toString(), mtime: e.header.mtime, data: await e.read() });
  return out;
}

const volumeTar = (r: JobResult) =>
  Buffer.concat(r.members.map((m) => (m.raw ? Buffer.from(m.data) : gunzipSync(m.data))));

test(
  'a small file’s delta from a job: rdiff patches the old file into the new one; the signature is rdiff’s',
  { skip },
  async () => {
    const dir = tempDir('deaddrop-diff-job-');
    const oldData = seededText('old', 300_000);
    // a rewritten stretch, an insertion of 100 KB (a delta over 64 KiB: two chunks), a cut
    const newData = Buffer.concat([
      oldData.subarray(0, 50_000),
      seededBytes('rewritten', 3000),
      oldData.subarray(53_000, 150_000),
      seededBytes('inserted', 100_000),
      oldData.subarray(170_000),
    ]);
    writeFileSync(join(dir, 'old'), oldData);
    writeFileSync(join(dir, 'f'), newData);
    rdiffSignature(dir, join(dir, 'old'), 'old.sig');
    const r = diffJob(entryOf(join(dir, 'f'), 'f'), readFileSync(join(dir, 'old.sig')));

    assert.deepEqual(r.problems, []);
    assert.deepEqual(
      r.files.map((f) => [f.change, Buffer.from(f.index[0]!).toString()]),
      [['changed', 'f']],
    );
    const vol = await entries(volumeTar(r));
    assert.deepEqual(
      vol.map((e) => [e.name, e.data.length]),
      [
        ['multivol_diff/f/1', 65536],
        ['multivol_diff/f/2', vol[1]!.data.length],
      ],
    );
    assert.ok(vol[1]!.data.length < 65536);
    writeFileSync(join(dir, 'delta'), Buffer.concat(vol.map((e) => e.data)));
    execFileSync('rdiff', ['patch', join(dir, 'old'), join(dir, 'delta'), join(dir, 'patched')]);
    assert.ok(readFileSync(join(dir, 'patched')).equals(newData), 'rdiff patch gives the new file');
    assert.ok(vol.reduce((n, e) => n + e.data.length, 0) < 110_000, 'the unchanged stretches are COPY commands');

    const sig = await entries(Buffer.from(r.sigtar));
    assert.deepEqual(
      sig.map((e) => e.name),
      ['signature/f'],
    );
    rdiffSignature(dir, join(dir, 'f'), 'new.sig');
    assert.ok(sig[0]!.data.equals(readFileSync(join(dir, 'new.sig'))), 'the new signature is rdiff’s');
    assert.equal(sig[0]!.mtime, entryOf(join(dir, 'f'), 'f').mtime);
  },
);

test(
  'a changed file gone before the job reads it is a deletion; one that shrank is reported and read again next run',
  { skip },
  async () => {
    const dir = tempDir('deaddrop-diff-job-');
    writeFileSync(join(dir, 'old'), seededText('old', 20_000));
    rdiffSignature(dir, join(dir, 'old'), 'old.sig');
    const oldSig = readFileSync(join(dir, 'old.sig'));

    const gone = join(dir, 'gone');
    writeFileSync(gone, 'x');
    const goneEntry = entryOf(gone, 'gone');
    execFileSync('rm', [gone]);
    const r = diffJob(goneEntry, oldSig);
    assert.deepEqual(
      r.problems.map((p) => p.kind),
      ['vanished'],
    );
    assert.deepEqual(
      r.files.map((f) => f.change),
      ['deleted'],
    );
    assert.deepEqual(
      (await entries(volumeTar(r))).map((e) => e.name),
      ['deleted/gone'],
    );

    const shrunk = join(dir, 'shrunk');
    writeFileSync(shrunk, seededText('new', 20_000));
    const scanned = entryOf(shrunk, 'shrunk');
    truncateSync(shrunk, 5000);
    const s = diffJob(scanned, oldSig);
    assert.deepEqual(
      s.problems.map((p) => p.kind),
      ['changed'],
    );
    const sig = await entries(Buffer.from(s.sigtar));
    assert.deepEqual(
      sig.map((e) => [e.name, e.mtime]),
      [['signature/shrunk', 0]],
    );
  },
);
