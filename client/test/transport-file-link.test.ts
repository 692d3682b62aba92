/**
 * A file:// sink on the spool's file system gets the spool file as a hard link (no second write
 * of the set); a second such sink gets a copy of its own, so two local mirrors stay two copies;
 * a sink on another file system (tmpfs here) gets a copy. Each is complete, mode 0644, and no
 * temp file is left.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { FileTarget } from '@deaddrop/client/transport/file-target';
import { seededBytes, tempDir } from '@deaddrop/test';

const sinkOf = (dir: string, name: string) => {
  mkdirSync(dir);
  return new FileTarget(name, pathToFileURL(dir).href + '/');
};

test('same file system: the first sink links the spool file, the second gets its own copy', async () => {
  const dir = tempDir('deaddrop-link-');
  const spooled = join(dir, 'spooled');
  const data = seededBytes('link', 300_000);
  writeFileSync(spooled, data, { mode: 0o600 });
  const a = sinkOf(join(dir, 'a'), 'a');
  const b = sinkOf(join(dir, 'b'), 'b');
  assert.equal(await a.putFile('vol1', spooled, data.length), 'created');
  assert.equal(await b.putFile('vol1', spooled, data.length), 'created');
  const spool = statSync(spooled);
  const inA = statSync(join(dir, 'a', 'vol1'));
  const inB = statSync(join(dir, 'b', 'vol1'));
  assert.equal(inA.ino, spool.ino, 'sink a holds the spool file itself');
  assert.equal(spool.nlink, 2, 'the spool name and sink a, no temp link left');
  assert.notEqual(inB.ino, spool.ino, 'sink b holds a copy');
  assert.equal(inB.nlink, 1);
  for (const s of [inA, inB]) assert.equal(s.mode & 0o777, 0o644);
  assert.deepEqual(readFileSync(join(dir, 'b', 'vol1')), data);
  assert.deepEqual(readdirSync(join(dir, 'a')), ['vol1']);
  assert.deepEqual(readdirSync(join(dir, 'b')), ['vol1']);
  // a second delivery of the same name is "exists", whatever the inode
  assert.equal(await a.putFile('vol1', spooled, data.length), 'exists');
});

test('another file system (tmpfs at /dev/shm): the sink gets a copy', async () => {
  const dir = tempDir('deaddrop-link-');
  const spooled = join(dir, 'spooled');
  const data = seededBytes('exdev', 200_000);
  writeFileSync(spooled, data);
  const shm = mkdtempSync('/dev/shm/deaddrop-link-');
  after(() => rmSync(shm, { recursive: true, force: true }));
  assert.notEqual(statSync(shm).dev, statSync(dir).dev, 'two file systems');
  const c = sinkOf(join(shm, 'c'), 'c');
  assert.equal(await c.putFile('vol1', spooled, data.length), 'created');
  assert.deepEqual(readFileSync(join(shm, 'c', 'vol1')), data);
  assert.equal(statSync(spooled).nlink, 1);
  assert.deepEqual(readdirSync(join(shm, 'c')), ['vol1']);
});
