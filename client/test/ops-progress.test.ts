/**
 * Progress of a backup: on a TTY a redrawn line with files, bytes, rate and ETA (ETA from the
 * previous run's tree size), plain log lines otherwise, `progress` events with --json.
 * The clock is a fake one: nothing here depends on how fast the machine is.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Logger } from '@deaddrop/common/log';
import { formatDuration, progressReporter } from '@deaddrop/client/ops/progress';
import { makeTestRecipient, runDeaddrop, seededBytes, tempDir, writeLocalClientConfig } from '@deaddrop/test';
import { captureStream } from './capture.js';

test('TTY: one redrawn line with files, bytes, rate and ETA; cleared at the end', () => {
  const c = captureStream(true);
  const log = new Logger({ stream: c.stream });
  let now = 1_000_000;
  const onProgress = progressReporter({ log, expectedBytes: 100 * 2 ** 20, now: () => now });
  onProgress({ files: 1, bytes: 0, done: false }); // the walk begins
  now += 10_000;
  onProgress({ files: 500, bytes: 25 * 2 ** 20, done: false });
  now += 100; // too soon to redraw
  onProgress({ files: 501, bytes: 26 * 2 ** 20, done: false });
  now += 10_000;
  onProgress({ files: 900, bytes: 50 * 2 ** 20, done: true });
  const frames = c.text().split('\r\x1b[K');
  assert.deepEqual(frames, [
    '',
    'scanning: 1 files, 0 B, 0 B/s',
    'scanning: 500 files, 25.0 MiB, 2.5 MiB/s, ETA 30s',
    '',
  ]);
  assert.equal(formatDuration(3725), '1h02m');
  assert.equal(formatDuration(125), '2m05s');
});

test('not a TTY: a log line now and then, nothing redrawn; --quiet shows none', () => {
  const c = captureStream(false);
  let now = 0;
  const onProgress = progressReporter({ log: new Logger({ stream: c.stream }), now: () => now });
  for (let i = 1; i <= 300; i++) {
    now += 1000; // a file a second: five minutes
    onProgress({ files: i, bytes: i * 1024, done: false });
  }
  onProgress({ files: 300, bytes: 300 * 1024, done: true });
  const lines = c.text().split('\n').filter(Boolean);
  assert.ok(!c.text().includes('\r'));
  assert.equal(lines.length, 5, lines.join('\n')); // at the start, then once a minute
  assert.equal(lines[1], 'scanning: 61 files, 61.0 KiB, 1.0 KiB/s');

  const q = captureStream(true);
  const quiet = progressReporter({ log: new Logger({ stream: q.stream, level: 'error' }), quiet: true });
  quiet({ files: 1, bytes: 1, done: false });
  quiet({ files: 1, bytes: 1, done: true });
  assert.equal(q.text(), '');
});

test('deaddrop backup --json: progress events, the last one done with the tree counted', async () => {
  const dir = tempDir('deaddrop-ops-progress-');
  const src = join(dir, 'src');
  mkdirSync(src);
  for (let i = 0; i < 5; i++) writeFileSync(join(src, `f${i}`), seededBytes(`f${i}`, 1000 * (i + 1)));
  const key = await makeTestRecipient(join(dir, 'keys'), { bits: 2048 });
  const { config } = writeLocalClientConfig(dir, { sources: [src], recipients: [key.certPath], sinkName: 'A' });
  const r = await runDeaddrop(['backup', '--config', config, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const events = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.event === 'progress');
  assert.ok(events.length >= 2, r.stdout);
  assert.deepEqual(
    { files: events.at(-1)!.files, bytes: events.at(-1)!.bytes, done: events.at(-1)!.done },
    { files: 5, bytes: 15_000, done: true },
  );
  assert.equal(r.stderr, '', 'with --json nothing is drawn on stderr');
});
