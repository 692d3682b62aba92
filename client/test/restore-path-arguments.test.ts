/**
 * --path arguments: relative to the backup root, or absolute on the backed-up host and mapped
 * by the sets' Localdir (restore-path.test.ts restores and verifies with them end to end).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '@deaddrop/common/errors';
import { parsePathArgument, rootedPaths } from '@deaddrop/client/restore/path-arguments';
import type { LoadedSet } from '@deaddrop/client/restore/load-set';

const b = (s: string) => Buffer.from(s);
/** What rootedPaths reads of a set: its time and its manifest's Localdir. */
const setOf = (time: number, localdir?: string) =>
  ({ set: { time }, manifest: { localdir: localdir === undefined ? undefined : b(localdir) } }) as unknown as LoadedSet;
const rooted = (paths: string[], ...sets: LoadedSet[]) =>
  rootedPaths(paths.map(parsePathArgument), sets).map((index) => index.map(String).join('/'));

test('a path is relative, or absolute from a leading slash', () => {
  assert.deepEqual(parsePathArgument('./etc/nginx/'), {
    given: './etc/nginx/',
    absolute: false,
    index: [b('etc'), b('nginx')],
  });
  assert.deepEqual(parsePathArgument('//etc/nginx'), {
    given: '//etc/nginx',
    absolute: true,
    index: [b('etc'), b('nginx')],
  });
  assert.deepEqual(parsePathArgument('/').index, []);
  for (const bad of ['/etc/../root', 'a//b', 'a/./b', '..'])
    assert.throws(
      () => parsePathArgument(bad),
      (err: Error) =>
        err instanceof UsageError && err.message.startsWith(`--path ${bad}: a path without . or .. parts`),
    );
});

test('an absolute path loses the backup root; a relative one is kept', () => {
  assert.deepEqual(rooted(['/etc/nginx', 'srv/www', '/'], setOf(1, '/')), ['etc/nginx', 'srv/www', '']);
  assert.deepEqual(rooted(['/srv/data/a', '/srv/data'], setOf(1, '/srv/data/'), setOf(2, '/srv/data')), ['a', '']);
  // a set without Localdir does not matter while no path is absolute
  assert.deepEqual(rooted(['a/b'], setOf(1)), ['a/b']);
});

test('an absolute path outside the root, or sets without one root, is a usage error naming them', () => {
  const refused = (paths: string[], sets: LoadedSet[], message: RegExp) =>
    assert.throws(
      () => rooted(paths, ...sets),
      (err: Error) => err instanceof UsageError && message.test(err.message),
    );
  refused(
    ['/srv/database'],
    [setOf(1, '/srv/data')],
    /^--path \/srv\/database: not under \/srv\/data, the backup root/,
  );
  refused(['/etc'], [setOf(1, '/srv')], /not under \/srv/);
  refused(['/a'], [setOf(86400)], /the set of 1970-01-02T00:00:00Z does not name an absolute backup root/);
  refused(['/a'], [setOf(1, 'relative/dir')], /does not name an absolute backup root/);
  refused(['/srv/a'], [setOf(1, '/srv'), setOf(2, '/home')], /made of different roots \(\/srv, \/home\)/);
});
