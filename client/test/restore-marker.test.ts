/**
 * The unfinished-restore marker (restore/dest-marker.ts) as the refusal of a --force restore
 * of another state reads it back: the --path lines may hold anything a path may, ': ' too. A
 * marker cut short (empty, or without all its fields: a crash as it was written) says nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '@deaddrop/common/errors';
import { checkSameRestore, MERGING, readMarker, UNFINISHED, writeMarker } from '@deaddrop/client/restore/dest-marker';

const marker = (...paths: string[]) =>
  'restore: a restore into an empty directory was restoring this and did not finish\n' +
  'host: h1\ntime: 2026-01-02T03:04:05Z\nsets: full.20260102T030405Z\n' +
  paths.map((p) => `path: ${JSON.stringify(p)}\n`).join('');

test('the same restore resumes; an empty marker is not taken as any', () => {
  assert.doesNotThrow(() => checkSameRestore('/d', marker('a'), marker('a')));
  assert.throws(() => checkSameRestore('/d', '', marker('a')), UsageError);
});

test('another restore is refused, naming the paths of the one that did not finish, quoted', () => {
  assert.throws(
    () => checkSameRestore('/d', marker('etc/a: b', 'x y'), marker()),
    (err: Error) =>
      err instanceof UsageError &&
      err.message.includes('a restore of h1 as of 2026-01-02T03:04:05Z --path "etc/a: b" --path "x y"'),
  );
});

test("a marker cut short by a crash reads as a merge's; a whole one as it is", async (t) => {
  const dest = mkdtempSync(join(tmpdir(), 'restore-marker-'));
  t.after(() => rmSync(dest, { recursive: true, force: true }));
  const whole = marker('etc/abc');
  for (const cut of ['', whole.slice(0, -2), whole.slice(0, whole.indexOf('sets:'))]) {
    writeFileSync(join(dest, UNFINISHED), cut);
    assert.equal(await readMarker(dest), MERGING, JSON.stringify(cut));
  }
  await writeMarker(dest, whole);
  assert.equal(await readMarker(dest), whole);
});
