/**
 * Progress of a backup's uploads: bytes are counted as they are read from local disk for the
 * sinks, once for both mirrors, and a retry that reads a file again adds nothing; the line
 * waits while the walk's line is up, and a real backup on a terminal draws it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { Logger } from '@deaddrop/common/log';
import { UploadMeter, uploadProgressReporter, type UploadProgress } from '@deaddrop/client/ops/upload-progress';
import { FileTarget, type SinkTargetLike } from '@deaddrop/client/transport/file-target';
import { uploadFile } from '@deaddrop/client/transport/upload-file';
import { sharedFileProgress } from '@deaddrop/client/backup/delivery-progress';
import {
  deaddropArgv,
  makeTestRecipient,
  missingTools,
  seededBytes,
  tempDir,
  writeLocalClientConfig,
} from '@deaddrop/test';
import { captureStream } from './capture.js';

/**
 * One file to several sinks, each reading it on its own (as early upload and delivery do), with
 * one meter: the bytes read as counted before the file ends (when the unread rest counts too).
 */
async function toEach(path: string, name: string, size: number, targets: SinkTargetLike[]) {
  const meter = new UploadMeter();
  const shared = sharedFileProgress(meter);
  const progress = targets.map(() => shared.file(name, size));
  const outcomes = await Promise.all(targets.map((t, i) => uploadFile(path, name, size, t, progress[i]!.read)));
  const read = meter.at.bytes;
  for (const p of progress) p.ended();
  return { outcomes, read, files: meter.at.files };
}

test('a file put to two mirrors is counted once; a retry that reads it again adds nothing', async () => {
  const dir = tempDir('deaddrop-upload-count-');
  const data = seededBytes('upload', 3 * 1024 * 1024 + 17);
  writeFileSync(join(dir, 'vol1'), data);
  for (const d of ['a', 'b']) mkdirSync(join(dir, d));
  const a = new FileTarget('a', `file://${join(dir, 'a')}/`);
  const b = new FileTarget('b', `file://${join(dir, 'b')}/`);
  const { outcomes, read, files } = await toEach(join(dir, 'vol1'), 'vol1', data.length, [a, b]);
  assert.deepEqual(
    outcomes.map((o) => o.ok && o.outcome),
    ['created', 'created'],
  );
  assert.equal(read, data.length, 'read once for both sinks');
  assert.equal(files, 1);
  assert.deepEqual(readFileSync(join(dir, 'b', 'vol1')), data);

  // a sink that drops its first attempt half way and then takes the file from a second read
  const retrying: SinkTargetLike = {
    name: 'flaky',
    list: async () => new Map(),
    async put(_name: string, body: () => Readable) {
      const first = body();
      let seen = 0;
      for await (const chunk of first) {
        seen += (chunk as Buffer).length;
        if (seen > data.length / 2) break; // leaving the loop destroys the stream
      }
      assert.equal((await buffer(body())).length, data.length);
      return 'created';
    },
  } as unknown as SinkTargetLike;
  const reads: number[] = [];
  const again = await uploadFile(join(dir, 'vol1'), 'vol1b', data.length, retrying, (n) => reads.push(n));
  assert.equal(again.ok, true);
  assert.ok(
    reads.every((n) => n > 0),
    `only new bytes are reported, never a step back: ${reads.join(' ')}`,
  );
  assert.equal(
    reads.reduce((x, y) => x + y, 0),
    data.length,
    'the second read counts only past the first one',
  );
});

test('a file:// sink copies the file itself beside a streamed sink: both take it, counted once', async () => {
  const dir = tempDir('deaddrop-upload-copy-');
  const data = seededBytes('copy', 2 * 1024 * 1024 + 5);
  writeFileSync(join(dir, 'vol1'), data, { mode: 0o600 });
  mkdirSync(join(dir, 'a'));
  const a = new FileTarget('a', `file://${join(dir, 'a')}/`);
  let streamed: Buffer | undefined;
  const webdavLike: SinkTargetLike = {
    name: 'stream',
    list: async () => new Map(),
    async put(_name: string, body: () => Readable) {
      streamed = await buffer(body());
      return 'created';
    },
  };
  const { outcomes, read, files } = await toEach(join(dir, 'vol1'), 'vol1', data.length, [a, webdavLike]);
  assert.deepEqual(
    outcomes.map((o) => o.ok && o.outcome),
    ['created', 'created'],
  );
  assert.deepEqual(readFileSync(join(dir, 'a', 'vol1')), data);
  assert.equal(statSync(join(dir, 'a', 'vol1')).mode & 0o777, 0o644, 'the copy is readable as a streamed put makes it');
  assert.deepEqual(streamed, data);
  assert.equal(read, data.length, 'read once for both sinks');
  assert.equal(files, 1);
  assert.deepEqual(readdirSync(join(dir, 'a')), ['vol1'], 'no temp file left');

  // the copy keeps the write-once rules: the same size is delivered, another size an error
  const same = await uploadFile(join(dir, 'vol1'), 'vol1', data.length, a);
  assert.deepEqual(same, { ok: true, outcome: 'exists' });
  writeFileSync(join(dir, 'other'), data.subarray(1));
  const clash = await uploadFile(join(dir, 'other'), 'vol1', data.length - 1, a);
  assert.equal(clash.ok, false);
  assert.match(String((clash as { error: unknown }).error), /already exists with \d+ bytes/);
  assert.deepEqual(readFileSync(join(dir, 'a', 'vol1')), data);
});

test('the meter: totals grow as files are queued; an unread file counts as done when it ends', () => {
  const seen: UploadProgress[] = [];
  const meter = new UploadMeter((p) => seen.push({ ...p }));
  const one = meter.queue(1000);
  const two = meter.queue(500);
  one.read(600);
  one.read(400);
  one.ended();
  two.ended(); // the sink had it already: nothing read
  meter.finish();
  assert.deepEqual(seen.at(-1), { files: 2, filesTotal: 2, bytes: 1500, bytesTotal: 1500, done: true });
  assert.deepEqual(
    seen.map((p) => p.bytes),
    [600, 1000, 1000, 1500, 1500],
  );
});

test('the line: held while the walk has the screen, its clock running from the first upload', () => {
  const c = captureStream(true);
  let now = 0;
  let held = true;
  const report = uploadProgressReporter({ log: new Logger({ stream: c.stream }), now: () => now, held: () => held });
  const at = (files: number, bytes: number, done = false) => ({
    files,
    filesTotal: 4,
    bytes,
    bytesTotal: 8 * 2 ** 20,
    done,
  });
  report(at(0, 1 * 2 ** 20)); // during the walk: not drawn
  now += 2000;
  held = false;
  report(at(1, 4 * 2 ** 20));
  now += 1000;
  report(at(4, 8 * 2 ** 20, true));
  assert.deepEqual(c.text().split('\r\x1b[K'), ['', 'uploading: 2/4 files, 4.0 MiB of 8.0 MiB, 2.0 MiB/s', '']);
});

test(
  'deaddrop backup on a terminal: the walk, then the uploads, each line cleared in turn',
  { skip: missingTools('script') },
  async () => {
    const dir = tempDir('deaddrop-upload-tty-');
    const src = join(dir, 'src');
    mkdirSync(src);
    for (let i = 0; i < 4; i++) writeFileSync(join(src, `f${i}`), seededBytes(`f${i}`, 200_000));
    const key = await makeTestRecipient(join(dir, 'keys'), { bits: 2048 });
    const { config } = writeLocalClientConfig(dir, { sources: [src], recipients: [key.certPath], sinkName: 'A' });
    const [node, ...cli] = deaddropArgv();
    const command = [node, ...cli, 'backup', '--config', config].map((a) => `'${a}'`).join(' ');
    const tty = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
    assert.equal(tty.status, 0, tty.stdout);
    const CLEAR = '\r\x1b[K';
    const out = tty.stdout;
    const scanning = out.indexOf(`${CLEAR}scanning: `);
    const uploading = out.indexOf(`${CLEAR}uploading: `);
    assert.ok(scanning >= 0 && uploading > scanning, JSON.stringify(out));
    // the last upload line is cleared before the result is printed
    const lastUpload = out.lastIndexOf('uploading: ');
    const result = out.indexOf('ok: full.');
    assert.ok(result > out.indexOf(CLEAR, lastUpload) && out.indexOf(CLEAR, lastUpload) > 0, JSON.stringify(out));
  },
);
