/**
 * An interrupted restore leaves no staging directory behind: killed with SIGTERM mid-way it
 * removes DEST/.deaddrop-restore-* and exits 143 (128 + 15); a staging directory left by a
 * restore that could not clean up (SIGKILL, power) is removed by the next restore, which then
 * needs no --force when that was all DEST held. A second restore into a DEST that one is
 * restoring into is refused, and leaves that one alone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  deaddropArgv,
  makeTestRecipient,
  runDeaddrop,
  seededBytes,
  tempDir,
  writeLocalClientConfig,
  type TestRecipient,
} from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';

const stagingIn = (dest: string) =>
  existsSync(dest) ? readdirSync(dest).filter((n) => n.startsWith('.deaddrop-restore-')) : [];

/** A one-set backup of 24 MiB of incompressible files in 1 MiB volumes: its restore takes a moment. */
async function bigBackup(tmp: string): Promise<{ src: string; sink: string; key: TestRecipient }> {
  const src = join(tmp, 'src');
  mkdirSync(src);
  for (let i = 0; i < 24; i++) writeFileSync(join(src, `f${i}.bin`), seededBytes(`big${i}`, 1 << 20));
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const sink = join(tmp, 'sink');
  const { config } = writeLocalClientConfig(tmp, {
    host: 'testhost',
    sources: [src],
    recipients: [key.certPath],
    sinkRoot: sink,
    extra: { volumeSize: '1MiB' },
  });
  const r = await runDeaddrop(['backup', '--config', config]);
  assert.equal(r.code, 0, r.stderr);
  return { src, sink, key };
}

/** Start a restore into `dest` and wait until it stages a file; `exited` is its exit code. */
async function startedRestore(args: string[], dest: string) {
  const [cmd, ...pre] = deaddropArgv();
  const child = spawn(cmd!, [...pre, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const deadline = Date.now() + 120_000;
  for (;;) {
    const [staging] = stagingIn(dest);
    if (staging && readdirSync(join(dest, staging)).length > 0) return { child, exited, staging, stderr: () => stderr };
    assert.ok(Date.now() < deadline && child.exitCode === null, `no staged file seen: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('an interrupted restore leaves no staging directory', { timeout: 300_000 }, async (t) => {
  const tmp = tempDir('deaddrop-restore-int-');
  const { src, sink, key } = await bigBackup(tmp);
  const args = (dest: string) => ['restore', '--from', sink, '--host', 'testhost', '--key', key.keyPath,
    '--passphrase-file', key.passphraseFile, '--to', dest]; // prettier-ignore

  await t.test('SIGTERM mid-way: staging removed, exit 143', async () => {
    const dest = join(tmp, 'killed');
    // wait until a file is being staged: the restore is under way
    const { child, exited, stderr } = await startedRestore(args(dest), dest);
    child.kill('SIGTERM');
    assert.equal(await exited, 143, stderr());
    assert.deepEqual(stagingIn(dest), [], 'the staging directory was removed');
    assert.match(stderr(), /interrupted \(SIGTERM\)/);
  });

  await t.test('a second restore into the same DEST: refused (exit 3), the running one goes on', async () => {
    const dest = join(tmp, 'busy');
    const { child, exited, staging, stderr } = await startedRestore(args(dest), dest);
    // stopped, so that it is surely still under way while the others run
    child.kill('SIGSTOP');
    try {
      for (const extra of [[], ['--force']]) {
        const r = await runDeaddrop([...args(dest), ...extra]);
        assert.equal(r.code, 3, r.stderr);
        assert.match(r.stderr, /another restore into .* \(pid \d+\) holds .*\.deaddrop-restore\.lock/);
        assert.ok(existsSync(join(dest, staging)), 'the running restore keeps its staging directory');
      }
    } finally {
      child.kill('SIGCONT');
    }
    assert.equal(await exited, 0, stderr());
    assert.deepEqual(compareTrees(src, dest), []);
  });

  await t.test('a stale staging directory next to other content, no --force: refused, nothing removed', async () => {
    const dest = join(tmp, 'stale-busy');
    mkdirSync(join(dest, '.deaddrop-restore-Xy34Zw'), { recursive: true });
    writeFileSync(join(dest, 'mine'), 'x');
    const r = await runDeaddrop(args(dest));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /not empty \(1 entries\)/);
    assert.ok(existsSync(join(dest, '.deaddrop-restore-Xy34Zw')));
  });

  await t.test('a stale staging directory removed by a run that then fails: said all the same', async () => {
    const dest = join(tmp, 'stale-fails');
    mkdirSync(join(dest, '.deaddrop-restore-Qr56St'), { recursive: true });
    const r = await runDeaddrop([...args(dest), '--path', 'not-in-the-backup']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /not in the backup at that time: not-in-the-backup/);
    assert.match(
      r.stderr,
      /warning: .*\.deaddrop-restore-Qr56St: removed the staging directory of an interrupted restore/,
    );
  });

  await t.test('a stale staging directory is removed; DEST held nothing else: no --force needed', async () => {
    const dest = join(tmp, 'stale');
    mkdirSync(join(dest, '.deaddrop-restore-Ab12Cd'), { recursive: true });
    writeFileSync(join(dest, '.deaddrop-restore-Ab12Cd', '7'), 'half a file');
    const r = await runDeaddrop(args(dest));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\.deaddrop-restore-Ab12Cd: removed the staging directory of an interrupted restore/);
    assert.deepEqual(compareTrees(src, dest), []);
  });
});
