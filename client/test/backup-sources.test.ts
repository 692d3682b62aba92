/**
 * Which source roots a backup takes in: a root reached through a symlink is a configuration
 * error (it would be stored as a bare link), every listed root is entered with its own file
 * system (also one named like another or inside another), and excludes and the archive dir
 * match non-ASCII paths.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isRoot, makeTestRecipient, missingTools, runDeaddrop, tempDir, writeLocalClientConfig } from '@deaddrop/test';

async function client(sources: string[], extra: Record<string, unknown> = {}) {
  const tmp = tempDir('deaddrop-sources-');
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const c = writeLocalClientConfig(tmp, { sources, recipients: [key.certPath], extra });
  const backup = () => runDeaddrop(['backup', '--config', c.config, '--json']);
  /** The paths the restore gives back (relative to the backup root), sorted. */
  const restoredFiles = async () => {
    const out = join(tmp, 'restored');
    const r = await runDeaddrop(['restore', '-q', '--from', join(tmp, 'sink'), '--host', 'h1', '--key', key.plainKeyPath, '--to', out]); // prettier-ignore
    assert.equal(r.code, 0, r.stderr);
    const find = spawnSync('find', ['.', '-type', 'f'], { cwd: out, encoding: 'utf8' });
    return find.stdout.trim().split('\n').sort();
  };
  return { ...c, backup, restoredFiles };
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, any>;

test(
  'a source root reached through a symlink is a configuration error naming it and its real path',
  { skip: missingTools('openssl') },
  async () => {
    const tmp = tempDir('deaddrop-sources-link-');
    for (const d of ['real/a', 'real/b']) mkdirSync(join(tmp, d), { recursive: true });
    writeFileSync(join(tmp, 'real/a/x'), 'x\n');
    writeFileSync(join(tmp, 'real/b/y'), 'y\n');
    symlinkSync(join(tmp, 'real/b'), join(tmp, 'b-link'));
    symlinkSync(join(tmp, 'real'), join(tmp, 'real-link'));
    const cases: [string[], string, string][] = [
      [[join(tmp, 'real/a'), join(tmp, 'b-link')], 'sources[1]', join(tmp, 'real/b')], // two roots, one a link
      [[join(tmp, 'b-link')], 'sources[0]', join(tmp, 'real/b')], // the only root
      [[join(tmp, 'real-link/a/')], 'sources[0]', join(tmp, 'real/a')], // a symlinked parent
    ];
    for (const [sources, field, real] of cases) {
      const c = await client(sources);
      const r = await c.backup();
      assert.equal(r.code, 2, `${sources.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`client.json: ${field}: `), r.stderr);
      assert.ok(r.stderr.includes(`through a symlink to ${real}; list the real path`), r.stderr);
    }
  },
);

test(
  'one file system per root: a root named like another, and a root inside another, are entered',
  { skip: !isRoot ? 'needs root to mount tmpfs' : missingTools('openssl', 'mount') },
  async (t) => {
    // not tempDir(): its cleanup would run before the unmounts
    const tmp = mkdtempSync(join(tmpdir(), 'deaddrop-sources-mounts-'));
    const mounted: string[] = [];
    t.after(() => {
      for (const d of mounted.reverse()) spawnSync('umount', [d]);
      rmSync(tmp, { recursive: true, force: true });
    });
    for (const d of ['a', 'ab', 'a/m']) mkdirSync(join(tmp, d), { recursive: true });
    for (const d of ['ab', 'a/m']) {
      const m = spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', join(tmp, d)], { encoding: 'utf8' });
      assert.equal(m.status, 0, m.stderr);
      mounted.push(join(tmp, d));
    }
    writeFileSync(join(tmp, 'a/x'), 'x\n');
    writeFileSync(join(tmp, 'ab/y'), 'y\n');
    mkdirSync(join(tmp, 'a/m/deep'));
    writeFileSync(join(tmp, 'a/m/deep/z'), 'z\n');
    const c = await client([join(tmp, 'a'), join(tmp, 'ab'), join(tmp, 'a/m')]);
    const r = await c.backup();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lastJson(r.stdout).result, 'ok');
    assert.deepEqual(await c.restoredFiles(), ['./a/m/deep/z', './a/x', './ab/y']);
  },
);

test('excludes and the archive dir with non-ASCII names are left out', { skip: missingTools('openssl') }, async () => {
  const tmp = tempDir('deaddrop-sources-utf8-');
  const src = join(tmp, 'src');
  for (const d of ['café', 'naïve-1', 'keep', 'ärchive']) mkdirSync(join(src, d), { recursive: true });
  for (const d of ['café', 'naïve-1', 'keep']) writeFileSync(join(src, d, 'f'), `${d}\n`);
  const c = await client([src], { exclude: [join(src, 'café'), join(src, 'na?ve-*')] });
  // the archive dir inside the source, under a non-ASCII name
  const config = JSON.parse(readFileSync(c.config, 'utf8')) as Record<string, unknown>;
  writeFileSync(c.config, JSON.stringify({ ...config, archiveDir: join(src, 'ärchive', 'dd') }));
  const r = await c.backup();
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await c.restoredFiles(), ['./keep/f']);
});
