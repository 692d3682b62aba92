/**
 * The backup's job pool: jobs run on worker threads and, when enough wait, on the main thread
 * too; every result is the job's own, whichever thread ran it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { runJob } from '@deaddrop/client/backup/job-exec';
import { createJobPool } from '@deaddrop/client/backup/job-pool';
import type { Job, JobResult } from '@deaddrop/client/backup/jobs';
import { md4Blocks } from '@deaddrop/client/rsync/md4-lanes';
import { loadOwnerNames } from '@deaddrop/client/scan/owners';
import { seededBytes, seededText, tempDir } from '@deaddrop/test';
import { scannedEntry } from './scan-helpers.js';

const ctx = { owners: loadOwnerNames(), strong: md4Blocks };

/** Jobs of one file each: text (deflated) and random bytes (stored), 100-300 KB. */
function fileJobs(count: number): Job[] {
  const dir = tempDir('deaddrop-job-pool-');
  return Array.from({ length: count }, (_, i) => {
    const name = `f${i}`;
    const path = join(dir, name);
    writeFileSync(path, i % 2 ? seededBytes(name, 100_000 + i * 7_000) : seededText(name, 300_000));
    const entry = scannedEntry(path);
    return { id: i, level: 6, items: [{ kind: 'file', entry, change: 'new', hadOld: false, oldWasFile: false }] };
  });
}

/** What a job stored: its tar bytes and its signature-archive bytes. */
function stored(r: JobResult): { tar: Buffer; sigtar: Buffer } {
  const parts = r.members.map((m) => (m.raw ? Buffer.from(m.data) : gunzipSync(m.data)));
  return { tar: Buffer.concat(parts), sigtar: Buffer.from(r.sigtar) };
}

test('a backlog is shared: the worker takes what it can hold, the main thread some of the rest', async () => {
  const jobs = fileJobs(24);
  const expected = jobs.map((j) => stored(runJob(j, ctx)));
  const pool = await createJobPool(1);
  try {
    assert.equal(pool.workers, 1);
    // all submitted at once, as the backup's writer does up to its look-ahead
    const results = await Promise.all(jobs.map((j) => pool.run(j)));
    assert.ok(pool.inline > 0, 'the main thread ran some jobs');
    assert.ok(
      pool.inline < jobs.length - 2,
      `the worker ran more than the two it was given first (${pool.inline} inline)`,
    );
    for (const [i, r] of results.entries()) {
      assert.equal(r.id, i);
      assert.deepEqual(stored(r), expected[i], `job ${i}: the same bytes as runJob's`);
    }
  } finally {
    await pool.close();
  }
});

test('a few jobs at a time all go to the workers', async () => {
  const jobs = fileJobs(6);
  const pool = await createJobPool(1);
  try {
    for (let i = 0; i < jobs.length; i += 2) await Promise.all([pool.run(jobs[i]!), pool.run(jobs[i + 1]!)]);
    assert.equal(pool.inline, 0, 'the main thread kept to its own work');
  } finally {
    await pool.close();
  }
});

test('without workers the main thread runs every job, in order', async () => {
  const jobs = fileJobs(5);
  const pool = await createJobPool(0);
  try {
    assert.equal(pool.workers, 0);
    const results = await Promise.all(jobs.map((j) => pool.run(j)));
    assert.deepEqual(
      results.map((r) => r.id),
      [0, 1, 2, 3, 4],
    );
    assert.equal(pool.inline, 5);
  } finally {
    await pool.close();
  }
});

for (const workers of [0, 1])
  test(`a job that fails fails alone (${workers} worker(s))`, async () => {
    const jobs = fileJobs(12);
    // an item of no kind the job runner knows: it throws, wherever it runs
    jobs[9] = { ...jobs[9]!, items: [{ kind: 'bogus' } as unknown as Job['items'][0]] };
    const pool = await createJobPool(workers);
    try {
      const settled = await Promise.allSettled(jobs.map((j) => pool.run(j)));
      assert.deepEqual(
        settled.map((s) => s.status),
        jobs.map((_, i) => (i === 9 ? 'rejected' : 'fulfilled')),
      );
      for (const s of settled) if (s.status === 'fulfilled') assert.equal(s.value.id, settled.indexOf(s));
    } finally {
      await pool.close();
    }
  });
