/**
 * Early upload keeps one queue per sink: a sink whose upload hangs holds back only itself, the
 * healthy sink takes every file in order meanwhile; once the hung sink fails it is down for the
 * run (no later file is tried there), and each file still counts once in the progress.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { EarlyUpload } from '@deaddrop/client/backup/early-upload';
import { UploadMeter, type UploadProgress } from '@deaddrop/client/ops/upload-progress';
import type { SinkTargetLike } from '@deaddrop/client/transport/file-target';
import { seededBytes, tempDir } from '@deaddrop/test';

/** A sink that reads each body in full and records the names in the order they came. */
function healthySink(): SinkTargetLike & { got: string[] } {
  const got: string[] = [];
  return {
    name: 'healthy',
    got,
    list: async () => new Map(),
    async put(name: string, body: () => Readable) {
      await buffer(body());
      got.push(name);
      return 'created';
    },
  };
}

/** A sink whose first put hangs until `fail` is called; it counts every put it is sent. */
function hungSink(): SinkTargetLike & { puts: string[]; fail: (err: Error) => void } {
  const puts: string[] = [];
  let fail: (err: Error) => void = () => {};
  const hanging = new Promise<never>((_resolve, reject) => (fail = reject));
  return {
    name: 'hung',
    puts,
    fail: (err) => fail(err),
    list: async () => new Map(),
    async put(name: string) {
      puts.push(name);
      return hanging;
    },
  };
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!ok()) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a hung sink holds back only itself; failed, it is down for the run; each file counts once', async () => {
  const dir = tempDir('deaddrop-early-upload-');
  const files = [1, 2, 3].map((n) => {
    const data = seededBytes(`vol${n}`, 300_000 + n);
    writeFileSync(join(dir, `vol${n}`), data);
    return { name: `vol${n}`, size: data.length };
  });
  const healthy = healthySink();
  const hung = hungSink();
  let progress: UploadProgress | undefined;
  const ahead = new EarlyUpload([hung, healthy], new UploadMeter((p) => (progress = { ...p })));
  for (const f of files) ahead.add(join(dir, f.name), f.name, f.size);

  await until('the healthy sink has every file', () => healthy.got.length === files.length);
  assert.deepEqual(healthy.got, ['vol1', 'vol2', 'vol3'], 'in order');
  assert.deepEqual(hung.puts, ['vol1'], 'the hung sink is still on its first file');
  assert.equal(progress?.files, 0, 'no file has ended while a sink is still on it');

  hung.fail(new Error('no progress for 120 s'));
  await ahead.settled();
  assert.deepEqual(hung.puts, ['vol1'], 'a failed sink is not tried again this run');
  assert.match(String(ahead.failed.get('hung')), /no progress/);
  assert.equal(ahead.failed.has('healthy'), false);
  assert.deepEqual([...ahead.sent.get('healthy')!], [...files.map((f) => [f.name, f.size])]);
  assert.equal(ahead.sent.get('hung')!.size, 0);
  const total = files.reduce((n, f) => n + f.size, 0);
  assert.deepEqual(progress, { files: 3, filesTotal: 3, bytes: total, bytesTotal: total, done: false });
});
