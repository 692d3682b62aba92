/**
 * Progress of a restore: stored bytes and volumes read against what the restore will read,
 * counted from the real files; a redrawn line on a terminal (cleared before the result), a log
 * line a minute otherwise, nothing with --quiet. The reporter's clock is a fake one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Logger } from '@deaddrop/common/log';
import { keyLoader } from '@deaddrop/client/restore/key';
import { restoreProgressReporter, type RestoreProgress } from '@deaddrop/client/restore/progress';
import { runRestore } from '@deaddrop/client/restore/restore';
import { deaddropArgv, missingTools, tempDir } from '@deaddrop/test';
import { makeChain } from './restore-helpers.js';
import { captureStream } from './capture.js';

const MiB = 2 ** 20;
const at = (volumes: number, storedBytes: number, files: number, done = false): RestoreProgress => ({
  volumes,
  volumesTotal: 4,
  storedBytes,
  storedTotal: 40 * MiB,
  files,
  done,
});

test('terminal: a redrawn line with volume, bytes, rate, ETA and files; cleared when done', () => {
  const c = captureStream(true);
  let now = 5_000_000;
  const report = restoreProgressReporter({ log: new Logger({ stream: c.stream }), now: () => now });
  report(at(0, 0, 0));
  now += 2_000;
  report(at(1, 10 * MiB, 300));
  now += 50; // too soon to redraw
  report(at(1, 11 * MiB, 310));
  now += 2_000;
  report(at(4, 40 * MiB, 900, true));
  assert.deepEqual(c.text().split('\r\x1b[K'), [
    '',
    'restoring: volume 1/4, 0 B of 40.0 MiB, 0 B/s, 0 files',
    'restoring: volume 2/4, 10.0 MiB of 40.0 MiB, 5.0 MiB/s, ETA 6s, 300 files',
    '',
  ]);
});

test('not a terminal: a log line a minute, none at the start; --quiet: nothing', () => {
  const c = captureStream(false);
  let now = 0;
  const report = restoreProgressReporter({ log: new Logger({ stream: c.stream }), now: () => now });
  for (let s = 0; s <= 150; s++) {
    report(at(0, s * 100_000, s));
    now += 1000;
  }
  report(at(4, 40 * MiB, 200, true));
  const lines = c.text().split('\n').filter(Boolean);
  assert.ok(!c.text().includes('\r'));
  assert.deepEqual(lines, [
    'restoring: volume 1/4, 5.7 MiB of 40.0 MiB, 97.7 KiB/s, ETA 5m59s, 60 files',
    'restoring: volume 1/4, 11.4 MiB of 40.0 MiB, 97.7 KiB/s, ETA 4m59s, 120 files',
  ]);

  const q = captureStream(true);
  const quiet = restoreProgressReporter({ log: new Logger({ stream: q.stream, level: 'error' }), quiet: true });
  quiet(at(0, 0, 0));
  quiet(at(4, 40 * MiB, 1, true));
  assert.equal(q.text(), '');
});

test(
  'the counts are those of the stored volumes read, and end at their totals',
  { skip: missingTools('cp', 'script'), timeout: 300_000 },
  async () => {
    const tmp = tempDir('deaddrop-restore-progress-');
    const chain = await makeChain(tmp, { incrementals: 1, volumeSize: '96KiB', sinks: 1 });
    const hostDir = join(chain.sinks[0]!, 'testhost');
    const stored = readdirSync(hostDir).filter((n) => n.includes('.difftar.'));
    const storedBytes = stored.reduce((sum, n) => sum + statSync(join(hostDir, n)).size, 0);

    const seen: RestoreProgress[] = [];
    const r = await runRestore({
      from: chain.sinks[0]!,
      host: 'testhost',
      key: keyLoader(chain.key.keyPath, chain.key.passphraseFile),
      dest: join(tmp, 'all'),
      onProgress: (p) => seen.push({ ...p }),
    });
    const last = seen.at(-1)!;
    assert.deepEqual(last, {
      volumes: stored.length,
      volumesTotal: stored.length,
      storedBytes,
      storedTotal: storedBytes,
      files: r.stats.files,
      done: true,
    });
    assert.ok(seen.length > stored.length, `a report per chunk read (${seen.length})`);
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i]!.storedBytes >= seen[i - 1]!.storedBytes && seen[i]!.volumes >= seen[i - 1]!.volumes);
      assert.equal(seen[i]!.done, i === seen.length - 1);
    }

    // a subtree: the totals are those of the volumes that hold it, not of the whole chain
    const part: RestoreProgress[] = [];
    const sub = await runRestore({
      from: chain.sinks[0]!,
      host: 'testhost',
      key: keyLoader(chain.key.keyPath, chain.key.passphraseFile),
      dest: join(tmp, 'part'),
      paths: ['secret'],
      onProgress: (p) => part.push({ ...p }),
    });
    const partBytes = sub.volumes.reduce((sum, n) => sum + statSync(join(hostDir, n)).size, 0);
    assert.ok(sub.volumesRead < stored.length);
    assert.deepEqual(
      [part.at(-1)!.volumesTotal, part.at(-1)!.storedTotal, part.at(-1)!.storedBytes],
      [sub.volumesRead, partBytes, partBytes],
    );

    // on a terminal (script(1) gives the command one), the line is drawn, then cleared before
    // the result; verify (a restore, then a comparison) shows it too
    const onTerminal = (...args: string[]): string => {
      const [node, ...cli] = deaddropArgv();
      const command = [node, ...cli, ...args, '--from', chain.sinks[0]!, '--host', 'testhost', '--key',
        chain.key.keyPath, '--passphrase-file', chain.key.passphraseFile]; // prettier-ignore
      const tty = spawnSync('script', ['-qec', command.map((a) => `'${a}'`).join(' '), '/dev/null'], {
        encoding: 'utf8',
      });
      assert.equal(tty.status, 0, tty.stdout + tty.stderr);
      return tty.stdout;
    };
    const CLEAR = '\r\x1b[K';
    const restored = onTerminal('restore', '--to', join(tmp, 'tty'));
    assert.ok(restored.includes(`${CLEAR}restoring: volume 1/`), JSON.stringify(restored));
    assert.ok(restored.includes(`${CLEAR}restored testhost as of `), JSON.stringify(restored));
    const verified = onTerminal('verify', '--against', chain.snapshots.at(-1)!.dir);
    assert.ok(verified.includes(`${CLEAR}restoring: volume 1/`), JSON.stringify(verified));
    assert.ok(verified.includes(`${CLEAR}verify testhost as of `), JSON.stringify(verified));
    // list --files on a terminal: its lines come as the volumes are read, and are the
    // progress; no progress line is drawn among them
    const listed = onTerminal('list', '--files');
    assert.ok(!listed.includes('restoring: volume'), JSON.stringify(listed));
    assert.ok(listed.startsWith('dir      0755 '), JSON.stringify(listed));
  },
);
