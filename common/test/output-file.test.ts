import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Transform } from 'node:stream';
import { after, test } from 'node:test';
import { writeThroughTemp } from '@deaddrop/common/output-file';

const dir = mkdtempSync(join(tmpdir(), 'deaddrop-output-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes half, lets `during` run (another writer, say), then writes the rest. */
const twoHalves = (during: () => void) => async (first: Transform) => {
  first.write('first half ');
  during();
  first.end('second half');
};

test('without overwrite: a file that appears while the output is written is kept, not replaced', async () => {
  const out = join(dir, 'raced');
  const source = twoHalves(() => writeFileSync(out, 'someone else')); // after the up-front check
  await assert.rejects(
    writeThroughTemp(source, [new PassThrough()], out, 0o644, { overwrite: false }),
    /raced: exists/,
  );
  assert.equal(readFileSync(out, 'utf8'), 'someone else');
  assert.deepEqual(readdirSync(dir), ['raced'], 'no temp file left');
});

test('without overwrite: a new file appears whole; an existing one is refused before anything is read', async () => {
  const out = join(dir, 'fresh');
  await writeThroughTemp(
    twoHalves(() => {}),
    [new PassThrough()],
    out,
    0o644,
    { overwrite: false },
  );
  assert.equal(readFileSync(out, 'utf8'), 'first half second half');
  let read = false;
  const source = twoHalves(() => (read = true));
  await assert.rejects(
    writeThroughTemp(source, [new PassThrough()], out, 0o644, { overwrite: false }),
    /fresh: exists/,
  );
  assert.equal(read, false);
  const other = async (first: Transform) => void first.end('other');
  await writeThroughTemp(other, [new PassThrough()], out, 0o644);
  assert.equal(readFileSync(out, 'utf8'), 'other', 'replaced by default');
});
