/**
 * The metrics model and textfile without a backup: format and read back, what each kind of run
 * does to it, the start of a run (-1, last success kept, also from state.json), and the atomic
 * write (a reader never sees part of a file, a failed write leaves the old one and no temp).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Logger } from '@deaddrop/common/log';
import { emptyMetrics, formatMetrics, Status } from '@deaddrop/client/ops/metrics';
import { parseMetrics, parseSamples } from '@deaddrop/client/ops/metrics-parse';
import { readPreviousMetrics, writeMetricsFile } from '@deaddrop/client/ops/metrics-file';
import { finishedMetrics, startedMetrics } from '@deaddrop/client/ops/run-metrics';
import type { RunFigures } from '@deaddrop/client/ops/outcome';
import { RunReporter } from '@deaddrop/client/ops/unattended';
import { LockedError, UsageError } from '@deaddrop/common/errors';
import { tempDir } from '@deaddrop/test';

const value = (text: string, name: string, labels: Record<string, string> = {}) =>
  parseSamples(text).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

function run(over: Partial<RunFigures> = {}): RunFigures {
  return {
    result: 'ok',
    exitCode: 0,
    set: 'full.20260101T000000Z',
    seconds: 12.5,
    storedBytes: 1000,
    stats: { newFiles: 3, changedFiles: 2, deletedFiles: 1, bytesRead: 5000 },
    problems: [{}, {}],
    delivery: { A: { ok: true, bytes: 1000, lagging: [] }, B: { ok: true, bytes: 1000, lagging: [] } },
    spoolBytes: 0,
    ...over,
  };
}

test('every metric has HELP and TYPE, every sample the host label; the text reads back the same', () => {
  const m = finishedMetrics(
    startedMetrics(emptyMetrics(), ['A', 'B'], 100),
    { kind: 'finished', run: run() },
    12.5,
    112,
  );
  const text = formatMetrics('web "1"', m);
  const names = new Set(parseSamples(text).map((s) => s.name));
  for (const name of names) {
    assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'));
    assert.match(text, new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'));
    assert.match(name, /^deaddrop_backup_/);
    if (/_total$/.test(name)) assert.match(text, new RegExp(`^# TYPE ${name} counter$`, 'm'));
  }
  for (const s of parseSamples(text)) assert.equal(s.labels.host, 'web "1"', s.name);
  assert.match(text, /host="web \\"1\\""/);
  assert.deepEqual(parseMetrics(text), { ...m, status: Status.RUNNING });
  assert.equal(formatMetrics('web "1"', { ...parseMetrics(text), status: m.status }), text);
});

test('ok, degraded, failed, locked and thrown runs: status, last success, counters, sinks', () => {
  const start = startedMetrics({ ...emptyMetrics(), lastSuccess: 50, readBytes: 7 }, ['A', 'B'], 100);
  assert.equal(start.status, Status.RUNNING);
  assert.equal(start.lastSuccess, 50);
  assert.deepEqual(start.uploadedBytes, { A: 0, B: 0 });

  const ok = finishedMetrics(start, { kind: 'finished', run: run() }, 12.5, 200);
  assert.equal(ok.status, 1);
  assert.equal(ok.lastSuccess, 200);
  assert.equal(ok.lastDuration, 12.5);
  assert.equal(ok.readBytes, 5007);
  assert.deepEqual(ok.files, { new: 3, changed: 2, deleted: 1 });
  assert.equal(ok.errors, 2);
  assert.deepEqual(ok.sinkUp, { A: 1, B: 1 });
  assert.deepEqual(ok.runs, { ok: 1, degraded: 0, failed: 0, locked: 0 });

  const degradedRun = run({
    result: 'degraded',
    exitCode: 4,
    delivery: { A: { ok: true, bytes: 10 }, B: { ok: false, lagging: ['x', 'y'] } },
    spoolBytes: 4096,
  });
  const degraded = finishedMetrics(ok, { kind: 'finished', run: degradedRun }, 3, 300);
  assert.equal(degraded.status, 4);
  assert.equal(degraded.lastSuccess, 300, 'one sink has the set: the backup counts');
  assert.deepEqual(degraded.sinkUp, { A: 1, B: 0 });
  assert.deepEqual(degraded.sinkLagging, { A: 0, B: 2 });
  assert.deepEqual(degraded.uploadedBytes, { A: 1010, B: 1000 }, 'a missing bytes field counts 0');
  assert.equal(degraded.spoolBytes, 4096);

  const failedRun = run({ result: 'failed', exitCode: 1, delivery: { A: { ok: false }, B: { ok: false } } });
  const failed = finishedMetrics(degraded, { kind: 'finished', run: failedRun }, 4, 400);
  assert.equal(failed.status, 0);
  assert.equal(failed.lastSuccess, 300);
  assert.deepEqual(failed.sinkUp, { A: 0, B: 0 });

  const locked = finishedMetrics(failed, { kind: 'thrown', error: new LockedError('held') }, 0.1, 500);
  assert.equal(locked.status, 2);
  assert.equal(locked.lastSuccess, 300);
  assert.equal(locked.lastDuration, 4, 'a locked run keeps the last real duration');
  assert.deepEqual(locked.sinkUp, { A: 0, B: 0 });

  const thrown = finishedMetrics(locked, { kind: 'thrown', error: new UsageError('bad') }, 0.2, 600);
  assert.equal(thrown.status, 0);
  assert.equal(thrown.lastSuccess, 300);
  assert.deepEqual(thrown.runs, { ok: 1, degraded: 1, failed: 2, locked: 1 });
});

test('a run starts with status -1 and the last success of the previous file, or else of state.json', async () => {
  const dir = tempDir('deaddrop-ops-metrics-');
  const archiveDir = join(dir, 'archive');
  mkdirSync(archiveDir);
  const metricsFile = join(dir, 'prom', 'deaddrop-backup.prom');
  const config = { host: 'h1', archiveDir, metricsFile, sinks: [{ name: 'A', url: 'file:///x/' }] };
  const log = new Logger({ level: 'error' });

  // no metrics file yet: the runs recorded in the archive dir say when the last success was
  writeFileSync(
    join(archiveDir, 'state.json'),
    JSON.stringify({
      version: 1,
      host: 'h1',
      localdir: '/',
      chain: [],
      pending: [],
      runs: [
        { started: '2026-01-01T00:00:00Z', finished: '2026-01-01T00:10:00Z', result: 'degraded' },
        { started: '2026-01-02T00:00:00Z', finished: '2026-01-02T00:10:00Z', result: 'failed' },
      ],
    }),
  );
  const fromState = await readPreviousMetrics(metricsFile, archiveDir);
  assert.equal(fromState.lastSuccess, Date.parse('2026-01-01T00:10:00Z') / 1000);

  const reporter = await RunReporter.start({ config: config as never, log });
  const during = readFileSync(metricsFile, 'utf8');
  assert.equal(value(during, 'deaddrop_backup_last_status'), -1);
  assert.equal(value(during, 'deaddrop_backup_last_success_timestamp_seconds'), fromState.lastSuccess);
  await reporter.finish({ kind: 'finished', run: run({ delivery: { A: { ok: true, bytes: 5 } } }) });
  const after = readFileSync(metricsFile, 'utf8');
  assert.equal(value(after, 'deaddrop_backup_last_status'), 1);
  const success = value(after, 'deaddrop_backup_last_success_timestamp_seconds')!;
  assert.ok(success > fromState.lastSuccess!);

  // the next run starts from the file: -1, the same last success, counters kept
  await RunReporter.start({ config: config as never, log });
  const next = readFileSync(metricsFile, 'utf8');
  assert.equal(value(next, 'deaddrop_backup_last_status'), -1);
  assert.equal(value(next, 'deaddrop_backup_last_success_timestamp_seconds'), success);
  assert.equal(value(next, 'deaddrop_backup_uploaded_bytes_total', { sink: 'A' }), 5);
  assert.equal(value(next, 'deaddrop_backup_sink_up', { sink: 'A' }), 1);
  assert.deepEqual(readdirSync(join(dir, 'prom')), ['deaddrop-backup.prom']);
});

test('atomic write: a reader sees the old or the new file whole; a failed write keeps the old one', async () => {
  const dir = tempDir('deaddrop-ops-atomic-');
  const file = join(dir, 'deaddrop-backup.prom');
  const big = emptyMetrics();
  // many sinks make a file large enough that a non-atomic write would be seen half done
  for (let i = 0; i < 3000; i++) big.uploadedBytes[`sink${i}`] = i;
  big.readBytes = 1_000_000;
  await writeMetricsFile(file, 'h1', big);
  const whole = formatMetrics('h1', big);
  let stop = false;
  let reads = 0;
  const reader = (async () => {
    while (!stop) {
      const text = await readFile(file, 'utf8');
      reads++;
      assert.equal(text.length, whole.length, 'a reader saw part of a file');
      assert.ok(text.endsWith('deaddrop_backup_runs_total{host="h1",status="locked"} 0\n'));
    }
  })();
  for (let i = 0; i < 30; i++) {
    big.readBytes = 1_000_000 + i; // same length every time
    await writeMetricsFile(file, 'h1', big);
  }
  stop = true;
  await reader;
  assert.ok(reads > 0);
  assert.deepEqual(readdirSync(dir), ['deaddrop-backup.prom'], 'no temp file left');

  // the directory's name is now a file: the write fails, nothing is left half-written
  const blocked = join(dir, 'blocked');
  writeFileSync(blocked, 'not a directory');
  await assert.rejects(writeMetricsFile(join(blocked, 'x.prom'), 'h1', big));
  assert.deepEqual(readdirSync(dir).sort(), ['blocked', 'deaddrop-backup.prom']);
  assert.equal(readFileSync(file, 'utf8'), formatMetrics('h1', big));
});

test('a run refused by the lock while another runs: both runs are counted, the holder has the last word', async () => {
  const dir = tempDir('deaddrop-ops-overlap-');
  const metricsFile = join(dir, 'deaddrop-backup.prom');
  const config = {
    host: 'h1',
    archiveDir: join(dir, 'archive'),
    metricsFile,
    sinks: [{ name: 'A', url: 'file:///x/' }],
  };
  const log = new Logger({ level: 'error' });
  const holder = await RunReporter.start({ config: config as never, log });
  const refused = await RunReporter.start({ config: config as never, log });
  await refused.finish({ kind: 'thrown', error: new LockedError('held') });
  assert.equal(value(readFileSync(metricsFile, 'utf8'), 'deaddrop_backup_last_status'), 2);
  await holder.finish({ kind: 'finished', run: run({ delivery: { A: { ok: true, bytes: 5 } } }) });
  const text = readFileSync(metricsFile, 'utf8');
  assert.equal(value(text, 'deaddrop_backup_last_status'), 1);
  assert.equal(value(text, 'deaddrop_backup_runs_total', { status: 'locked' }), 1);
  assert.equal(value(text, 'deaddrop_backup_runs_total', { status: 'ok' }), 1);
  assert.equal(value(text, 'deaddrop_backup_duration_seconds'), 12.5);
});
