/**
 * A set spooled for a sink that stays away is checked against its sums file once (at the run
 * after the one that wrote it), not read through again by every later run; a file changed
 * since (size, mtime or inode) makes it checked again, and a mismatch is still seen.
 *
 * Whether a run read a file is seen from its access time: with an access time set far in the
 * past (`touch -a`, which leaves the mtime alone), the kernel updates it on the next read
 * (relatime, strictatime). On a noatime file system the test is skipped.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadClientConfig } from '@deaddrop/common/config/client';
import { Logger } from '@deaddrop/common/log';
import { runBackup } from '@deaddrop/client/backup/run';
import { makeTestRecipient, missingTools, seededBytes, tempDir, writeLocalClientConfig } from '@deaddrop/test';

const LONG_AGO = 1_000_000_000; // 2001: older than any mtime here

const setAtimeLongAgo = (path: string) => execFileSync('touch', ['-a', '-d', `@${LONG_AGO}`, path]);
const atime = (path: string) => Math.floor(statSync(path).atimeMs / 1000);

/** Reads update the access time here (not mounted noatime). */
function atimeSeesReads(dir: string): boolean {
  const probe = join(dir, 'atime-probe');
  writeFileSync(probe, 'x');
  setAtimeLongAgo(probe);
  readFileSync(probe);
  return atime(probe) !== LONG_AGO;
}

test(
  'a spooled set is hashed once, not by every run while its sink is away; a changed file is hashed again',
  { skip: missingTools('openssl', 'touch') },
  async (t) => {
    const tmp = tempDir('deaddrop-spool-checked-');
    if (!atimeSeesReads(tmp)) return t.skip('the file system does not update access times');
    const src = join(tmp, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.bin'), seededBytes('a', 100_000));
    const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
    const c = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath] });
    const log = new Logger({ level: 'error' });
    const backup = (step: string) => {
      writeFileSync(join(src, `${step}.bin`), seededBytes(step, 50_000));
      return runBackup({ config: loadClientConfig(c.config), configFile: c.config, mode: 'auto', log });
    };

    assert.equal((await backup('first')).result, 'ok');
    renameSync(c.sinkHostDir, `${c.sinkHostDir}.away`); // unmounted, and stays so
    const i1 = await backup('i1');
    const setDir = join(c.archiveDir, 'outgoing', i1.set!);
    const files = readdirSync(setDir).map((n) => join(setDir, n));

    for (const f of files) setAtimeLongAgo(f);
    await backup('i2'); // the first run after I1's: hashes it
    assert.ok(
      files.some((f) => atime(f) !== LONG_AGO),
      'the run after the one that wrote I1 reads it through',
    );

    for (const f of files) setAtimeLongAgo(f);
    const third = await backup('i3');
    assert.deepEqual(third.problems, []);
    const read = files.filter((f) => atime(f) !== LONG_AGO).map((f) => f.slice(setDir.length + 1));
    assert.deepEqual(read, [], 'I1, unchanged since it was hashed, is not read again');

    const volume = files.find((f) => /\.vol1\./.test(f))!;
    appendFileSync(volume, 'x'); // a hand: the file no longer matches the sums file
    const fourth = await backup('i4');
    assert.ok(
      fourth.problems.some((p) => p.kind === 'spool-lost' && p.path === i1.set),
      `a changed file is hashed again: ${JSON.stringify(fourth.problems)}`,
    );
  },
);
