/**
 * Which live objects verify expects a backup to hold (live-selection.ts): those inside a
 * source or on the way to one, not excluded, not the archive directory, never /proc /sys
 * /dev /run, and not what verify leaves out itself; the live tree stands for the backup root.
 */
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '@deaddrop/test';
import { takenByBackup } from '../src/restore/live-selection.js';
import { makeSelection } from '../src/scan/select.js';

test('a live object counts where the selection takes it', () => {
  const live = tempDir('deaddrop-live-selection-');
  mkdirSync(join(live, 'a-dir'));
  writeFileSync(join(live, 'a-file'), 'x');
  const dir = lstatSync(join(live, 'a-dir'));
  const file = lstatSync(join(live, 'a-file'));
  const selection = makeSelection(['/etc', '/usr/lib'], ['/usr/lib/**/*.pyc', '/etc/ssl'], ['/var/lib/deaddrop']);
  assert.equal(selection.root, '/');
  const taken = takenByBackup(selection, Buffer.from(live), {
    oneFileSystem: true,
    leaveOut: [Buffer.from('etc/verify-work')],
  });
  const cases: [string, boolean][] = [
    ['etc', true],
    ['etc/hosts', true],
    ['etc/ssl', false], // excluded
    ['etc/ssl/certs', false],
    ['etc/verify-work', false], // left out by the caller
    ['usr', true], // on the way to a source: the backup holds it
    ['usr/lib', true],
    ['usr/lib/python3/x.py', true],
    ['usr/lib/python3/x.pyc', false], // a glob
    ['usr/share', false], // beside the sources
    ['usr/libexec', false], // a sibling that shares the source's name as a prefix
    ['var', false],
    ['home', false],
  ];
  for (const [rel, expected] of cases)
    for (const st of [dir, file]) assert.equal(taken(Buffer.from(rel), st), expected, rel);

  // a backup of `/`: the kernel's trees and the archive directory are never taken
  const whole = takenByBackup(makeSelection(['/'], [], ['/var/lib/deaddrop']), Buffer.from(live), {
    oneFileSystem: false,
  });
  for (const rel of ['proc', 'sys', 'dev', 'run', 'var/lib/deaddrop', 'var/lib/deaddrop/state'])
    assert.equal(whole(Buffer.from(rel), dir), false, rel);
  for (const rel of ['etc', 'home', 'var', 'var/lib', 'var/lib/dpkg', 'proc2', 'runner'])
    assert.equal(whole(Buffer.from(rel), dir), true, rel);
});

test('a backup root below /: the live tree stands for it, names are bytes', () => {
  const live = tempDir('deaddrop-live-selection-root-');
  mkdirSync(join(live, 'data'));
  const st = lstatSync(join(live, 'data'));
  const selection = makeSelection(['/srv/data', '/srv/www'], ['/srv/data/tmp']);
  assert.equal(selection.root, '/srv');
  const taken = takenByBackup(selection, Buffer.from(live), { oneFileSystem: true });
  assert.equal(taken(Buffer.from('data'), st), true);
  assert.equal(taken(Buffer.from('data/tmp'), st), false);
  assert.equal(taken(Buffer.from('www/index.html'), st), true);
  assert.equal(taken(Buffer.from('backup'), st), false);
  // a name that is not UTF-8 inside a source
  assert.equal(taken(Buffer.concat([Buffer.from('data/'), Buffer.from([0xff, 0xfe])]), st), true);
});
