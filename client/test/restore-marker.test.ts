/**
 * The unfinished-restore marker (restore/dest-marker.ts) as the refusal of a --force restore
 * of another state reads it back: the --path lines may hold anything a path may, ': ' too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '@deaddrop/common/errors';
import { checkSameRestore } from '@deaddrop/client/restore/dest-marker';

const marker = (...paths: string[]) =>
  'restore: a restore into an empty directory was restoring this and did not finish\n' +
  'host: h1\ntime: 2026-01-02T03:04:05Z\nsets: full.20260102T030405Z\n' +
  paths.map((p) => `path: ${JSON.stringify(p)}\n`).join('');

test('the same restore resumes; an older, empty marker too', () => {
  assert.doesNotThrow(() => checkSameRestore('/d', marker('a'), marker('a')));
  assert.doesNotThrow(() => checkSameRestore('/d', '', marker('a')));
});

test('another restore is refused, naming the paths of the one that did not finish, quoted', () => {
  assert.throws(
    () => checkSameRestore('/d', marker('etc/a: b', 'x y'), marker()),
    (err: Error) =>
      err instanceof UsageError &&
      err.message.includes('a restore of h1 as of 2026-01-02T03:04:05Z --path "etc/a: b" --path "x y"'),
  );
});

test('a marker cut short by a crash is still refused with its text as it stands', () => {
  const cut = marker('etc/abc').slice(0, -2); // ends: path: "etc/abc
  assert.throws(
    () => checkSameRestore('/d', cut, marker('etc/abc')),
    (err: Error) => err instanceof UsageError && err.message.includes(`--path ${JSON.stringify('"etc/abc')}`),
  );
});
