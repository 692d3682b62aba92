/**
 * A restore whose small files are made on the thread pool (restore/stage-files.ts) fails as one
 * that makes them itself: interrupted (SIGINT) while batches are under way, it removes its
 * staging directory and lock and exits 130; a DEST that runs out of space mid-volume is named
 * with the volume, and a DEST that got nothing is left with nothing, marker included.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deaddropArgv, isRoot, localBackupRig, missingTools, runDeaddrop, seededBytes, tempDir } from '@deaddrop/test';

const inCI = process.env.CI === 'true' || process.env.CI === '1';

/** A one-set backup of `n` small files of `size` bytes. */
async function smallFilesBackup(tmp: string, n: number, size: number) {
  const src = join(tmp, 'src');
  for (let d = 0; d < 10; d++) mkdirSync(join(src, `d${d}`), { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(join(src, `d${i % 10}`, `f${i}`), seededBytes(`f${i}`, size));
  const { key, client, backup } = await localBackupRig(tmp, src);
  await backup();
  return { sink: client.sinkHostDir, key };
}

test(
  'SIGINT while batches of small files are being made: staging and lock removed, exit 130',
  { timeout: 300_000 },
  async () => {
    const tmp = tempDir('deaddrop-restore-pool-int-');
    const { sink, key } = await smallFilesBackup(tmp, 8000, 1500);
    // at a few moments after the first staged file: the race is with the pool's next file
    for (const delay of [0, 30, 90, 200]) {
      const dest = join(tmp, `dest-${delay}`);
      const [cmd, ...pre] = deaddropArgv();
      const args = ['restore', '--from', sink, '--host', 'h1', '--key', key.plainKeyPath, '--to', dest];
      const child = spawn(cmd!, [...pre, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      for (;;) {
        const staging = existsSync(dest)
          ? readdirSync(dest).find((n) => /^\.deaddrop-restore-\w{6}$/.test(n))
          : undefined;
        if (staging && readdirSync(join(dest, staging)).some((s) => readdirSync(join(dest, staging, s)).length > 0))
          break;
        assert.equal(child.exitCode, null, `the restore ended before staging a file: ${stderr}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGINT');
      const code = await exited;
      if (code === 0) continue; // it finished first
      assert.equal(code, 130, `after ${delay} ms: ${stderr}`);
      assert.match(stderr, /restore interrupted \(SIGINT\)/);
      assert.deepEqual(readdirSync(dest), ['.deaddrop-restore.unfinished'], `after ${delay} ms: ${stderr}`);
    }
  },
);

test(
  'ENOSPC in the first volume: the error names it, and DEST is left empty, no marker',
  {
    skip: isRoot
      ? missingTools('mount', 'umount')
      : inCI
        ? assert.fail('CI: must run as root')
        : 'needs root (mount -t tmpfs)',
    timeout: 300_000,
  },
  async () => {
    const tmp = tempDir('deaddrop-restore-pool-enospc-');
    const { sink, key } = await smallFilesBackup(tmp, 20, 8000);
    const small = join(tmp, 'small');
    mkdirSync(small);
    assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]).status, 0);
    try {
      const dest = join(small, 'd');
      const r = await runDeaddrop(['restore', '--from', sink, '--host', 'h1', '--key', key.plainKeyPath, '--to', dest]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /duplicity-full\.\S+\.vol1\.difftar\.gz\.p7m: ENOSPC/);
      assert.match(r.stderr, /nothing was restored into/);
      assert.deepEqual(readdirSync(dest), []);
    } finally {
      spawnSync('umount', [small]);
    }
  },
);
