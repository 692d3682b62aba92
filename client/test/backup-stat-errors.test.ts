/**
 * An object whose lstat fails with an I/O error (EIO from a failing disk, ESTALE on NFS, EACCES
 * on a FUSE mount) is not gone: the incremental reports it and keeps it, and everything under
 * it, as the chain had it (no deletion, no new entry), as it does for a directory it cannot
 * list. strace injects the error into every lstat of those paths during one incremental.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deaddropArgv, localBackupRig, missingTools, runCommand, runDeaddrop, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';

const STAT_CALLS = 'statx,newfstatat,lstat';
const copyTree = (from: string, to: string) => execFileSync('cp', ['-a', from, to]);
const nextSecond = () => new Promise((r) => setTimeout(r, 1100));

interface BackupResult {
  time: string;
  problems: { kind: string; path: string; message: string }[];
}

/** `deaddrop backup --json`, every lstat of `failing` paths failing with EIO when given. */
async function backupJson(config: string, failing: string[] = []): Promise<BackupResult> {
  const args = ['backup', '--config', config, '--json'];
  const strace = ['-f', '-qq', '-o', '/dev/null', ...failing.flatMap((p) => ['-P', p])];
  const inject = ['-e', `trace=${STAT_CALLS}`, '-e', `inject=${STAT_CALLS}:error=EIO`];
  const r = failing.length
    ? await runCommand('strace', [...strace, ...inject, ...deaddropArgv(), ...args])
    : await runDeaddrop(args);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  // JSON lines: the warnings, then the result
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as BackupResult;
}

test(
  'an object whose lstat fails keeps its old version and its subtree in the incremental',
  { skip: missingTools('strace', 'openssl', 'cp'), timeout: 180_000 },
  async () => {
    const tmp = tempDir('deaddrop-stat-errors-');
    const src = join(tmp, 'src');
    mkdirSync(join(src, 'keep', 'sub'), { recursive: true });
    for (const i of [1, 2, 3]) writeFileSync(join(src, 'keep', 'sub', `f${i}`), `data${i}\n`);
    writeFileSync(join(src, 'lone'), 'old lone\n');
    writeFileSync(join(src, 'other'), 'other\n');
    const { key, client } = await localBackupRig(tmp, src);
    const full = await backupJson(client.config);
    const atFull = join(tmp, 'at-full');
    copyTree(src, atFull);

    await nextSecond();
    appendFileSync(join(src, 'other'), 'changed\n');
    writeFileSync(join(src, 'lone'), 'new lone, unseen by the incremental\n');
    // what the incremental can know: `lone` as the full stored it
    const atInc = join(tmp, 'at-inc');
    copyTree(src, atInc);
    copyTree(join(atFull, 'lone'), join(atInc, 'lone'));
    const inc = await backupJson(client.config, [join(src, 'keep'), join(src, 'lone')]);
    assert.deepEqual(
      inc.problems.map((p) => [p.kind, p.path, p.message]),
      [
        ['unreadable', join(src, 'keep'), 'cannot stat (EIO)'],
        ['unreadable', join(src, 'lone'), 'cannot stat (EIO)'],
      ],
    );

    await nextSecond();
    const latest = await backupJson(client.config); // the errors are gone: `lone` is read again

    const restore = async (time: string, to: string) => {
      const r = await runDeaddrop(['restore', '--from', client.sinkHostDir, '--host', 'h1', '--key', key.plainKeyPath, '--to', to, '--time', time]); // prettier-ignore
      assert.equal(r.code, 0, r.stderr);
      return to;
    };
    assert.deepEqual(compareTrees(atFull, await restore(full.time, join(tmp, 'r-full'))), []);
    assert.deepEqual(compareTrees(atInc, await restore(inc.time, join(tmp, 'r-inc'))), []);
    assert.deepEqual(compareTrees(src, await restore(latest.time, join(tmp, 'r-latest'))), []);
  },
);

test(
  'a full backup leaves out an object whose lstat fails, reported',
  { skip: missingTools('strace', 'openssl'), timeout: 120_000 },
  async () => {
    const tmp = tempDir('deaddrop-stat-errors-');
    const src = join(tmp, 'src');
    mkdirSync(join(src, 'keep', 'sub'), { recursive: true });
    writeFileSync(join(src, 'keep', 'sub', 'f'), 'f\n');
    writeFileSync(join(src, 'other'), 'other\n');
    const { key, client } = await localBackupRig(tmp, src);
    const full = await backupJson(client.config, [join(src, 'keep')]);
    assert.deepEqual(
      full.problems.map((p) => [p.kind, p.path]),
      [['unreadable', join(src, 'keep')]],
    );
    const out = join(tmp, 'r');
    const r = await runDeaddrop(['restore', '--from', client.sinkHostDir, '--host', 'h1', '--key', key.plainKeyPath, '--to', out, '--time', full.time]); // prettier-ignore
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(compareTrees(src, out, { ignore: ['keep'] }), []);
  },
);
