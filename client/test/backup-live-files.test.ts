/**
 * Files that change while the backup reads them: a log appended to during the whole run is
 * reported as changed, the run succeeds, the set restores (with duplicity as the oracle) to a
 * prefix of the live file, and the next run takes the file again so it restores exactly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  decryptForDuplicity,
  duplicityRestore,
  makeTestRecipient,
  missingTools,
  runDeaddrop,
  seededText,
  tempDir,
  writeLocalClientConfig,
} from '@deaddrop/test';

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, any>;

test(
  'a file appended to during the run is reported as changed; the set restores to a prefix; the next run takes it again',
  { skip: missingTools('openssl', 'duplicity'), timeout: 180_000 },
  async () => {
    const tmp = tempDir('deaddrop-backup-live-');
    const src = join(tmp, 'src');
    mkdirSync(src);
    const log = join(src, 'app.log');
    writeFileSync(log, seededText('log', 24 << 20));
    writeFileSync(join(src, 'quiet.conf'), 'x = 1\n');
    const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
    const sink = join(tmp, 'sink');
    const { config } = writeLocalClientConfig(tmp, {
      sources: [src],
      recipients: [key.certPath],
      sinkRoot: sink,
      extra: { volumeSize: '4MiB' },
    });
    // a writer that appends a line every millisecond until told to stop
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(log)},'a');let i=0;setInterval(()=>fs.writeSync(fd,'appended line '+(i++)+'\\n'),1);`,
      ],
      { stdio: 'ignore' },
    );
    let full: Record<string, any>;
    try {
      await new Promise((r) => setTimeout(r, 200));
      const r = await runDeaddrop(['backup', '--full', '--config', config, '--json']);
      assert.equal(r.code, 0, r.stderr);
      full = lastJson(r.stdout);
    } finally {
      writer.kill();
      await new Promise((r) => writer.once('exit', r));
    }
    assert.equal(full.result, 'ok');
    const problems = (full.problems as { kind: string; path: string }[]).map((p) => `${p.kind} ${p.path}`);
    assert.deepEqual(problems, [`changed ${log}`]);

    const live = readFileSync(log);
    const plain = join(tmp, 'plain');
    decryptForDuplicity(join(sink, 'h1'), key.plainKeyPath, plain);
    const out1 = join(tmp, 'restored-full');
    const r1 = await duplicityRestore(plain, out1, tmp);
    assert.equal(r1.code, 0, r1.stdout + r1.stderr);
    const got = readFileSync(join(out1, 'app.log'));
    assert.ok(got.length >= 24 << 20 && got.length < live.length, `restored ${got.length} of ${live.length} bytes`);
    assert.ok(live.subarray(0, got.length).equals(got), 'the stored log is a prefix of the live one');
    assert.equal(readFileSync(join(out1, 'quiet.conf'), 'utf8'), 'x = 1\n');

    // quiet now: the next run must take the log again although its mtime may not have moved since
    await new Promise((r) => setTimeout(r, 1100));
    const inc = await runDeaddrop(['backup', '--incremental', '--config', config, '--json']);
    assert.equal(inc.code, 0, inc.stderr);
    assert.deepEqual(lastJson(inc.stdout).problems, []);
    decryptForDuplicity(join(sink, 'h1'), key.plainKeyPath, plain);
    const out2 = join(tmp, 'restored-inc');
    const r2 = await duplicityRestore(plain, out2, tmp);
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    assert.ok(readFileSync(join(out2, 'app.log')).equals(live), 'the incremental restores the log exactly');
  },
);
