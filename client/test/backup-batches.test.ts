/**
 * How the set writer cuts small entries into batch jobs: by their data and by what each entry
 * brings besides (a tar header, a signature-archive header and record), so a directory of
 * thousands of tiny files does not make results of 2 MB of signature archive each, eight of
 * which wait ahead of the writer. Every entry is still written once, in order.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createJobPool } from '@deaddrop/client/backup/job-pool';
import { BATCH_BYTES, type JobResult } from '@deaddrop/client/backup/jobs';
import type { Action } from '@deaddrop/client/backup/plan';
import { readTarEntries } from '@deaddrop/client/backup/tar-entries';
import { loadRecipients } from '@deaddrop/keys/recipients';
import { makeTestRecipient, missingTools, tempDir } from '@deaddrop/test';
import { scannedEntry } from './scan-helpers.js';
import { poolAround, writeSet } from './set-writer-helpers.js';

const FILES = 3000;

test(
  'a run of tiny files is cut by what its entries bring, not by their data alone',
  { skip: missingTools('openssl') },
  async () => {
    const dir = tempDir('deaddrop-batches-');
    const src = join(dir, 'src');
    const out = join(dir, 'out');
    mkdirSync(src);
    mkdirSync(out);
    const names = Array.from({ length: FILES }, (_, i) => `page-${String(i).padStart(5, '0')}.html`);
    for (const n of names) writeFileSync(join(src, n), `<p>${n}</p>\n`);
    const key = await makeTestRecipient(join(dir, 'keys'), { bits: 2048 });
    const recipients = await loadRecipients([key.certPath]);

    // the workers' pool, each result's size noted as the writer gets it
    const workers = await createJobPool(1);
    const results: { items: number; sigtar: number }[] = [];
    const pool = poolAround(workers, (job) =>
      workers.run(job).then((r: JobResult) => {
        results.push({ items: job.items.length, sigtar: r.sigtar.length });
        return r;
      }),
    );
    async function* actions(): AsyncGenerator<Action> {
      for (const n of names) yield { op: 'new', entry: scannedEntry(join(src, n)) };
    }
    assert.deepEqual(await writeSet(out, src, recipients, pool, actions()), []);

    assert.equal(
      results.reduce((n, r) => n + r.items, 0),
      FILES,
      'every file in one job',
    );
    const largest = Math.max(...results.map((r) => r.sigtar));
    assert.ok(
      largest <= BATCH_BYTES,
      `a result brought ${largest} bytes of signature archive (${results.length} jobs)`,
    );
    // and nothing lost: one signature entry per file, in order
    const sig = gunzipSync(readFileSync(join(out, 'signatures.tar.gz')));
    const entries: string[] = [];
    for await (const e of readTarEntries(Readable.from([sig]))) {
      entries.push(e.header.name.toString());
      await e.read();
    }
    assert.deepEqual(
      entries,
      names.map((n) => `signature/${n}`),
    );
  },
);
