/**
 * The archive dir is never backed up, also when `archiveDir` reaches it through a symlink
 * (/var/lib/deaddrop -> /srv/zz-deaddrop with /srv a source): the walk sees the real path, so
 * the set would hold its own lock, state.json, plaintext cache, work/ and outgoing/ files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  makeTestRecipient,
  missingTools,
  runDeaddrop,
  seededBytes,
  tempDir,
  writeLocalClientConfig,
} from '@deaddrop/test';

/** Back up `src` with `archiveDir`, restore, and return what is restored (files and directories, sorted). */
async function backupAndRestore(tmp: string, src: string, archiveDir: string): Promise<string[]> {
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const c = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath] });
  const config = JSON.parse(readFileSync(c.config, 'utf8')) as Record<string, unknown>;
  writeFileSync(c.config, JSON.stringify({ ...config, archiveDir, volumeSize: '64KiB' }));
  // two runs: the second finds state.json, cache/ and the ledgers there
  for (const n of [1, 2]) {
    writeFileSync(join(src, 'data'), seededBytes(`data ${n}`, 300_000)); // several volumes: outgoing/ fills
    const b = await runDeaddrop(['backup', '--config', c.config]);
    assert.equal(b.code, 0, b.stderr);
  }
  const out = join(tmp, 'restored');
  const r = await runDeaddrop(['restore', '-q', '--from', c.sinkHostDir, '--host', 'h1', '--key', key.plainKeyPath, '--to', out]); // prettier-ignore
  assert.equal(r.code, 0, r.stderr);
  const find = spawnSync('find', ['.', '-mindepth', '1'], { cwd: out, encoding: 'utf8' });
  return find.stdout.trim().split('\n').sort();
}

function sourceDir(tmp: string): string {
  const src = join(tmp, 'src');
  mkdirSync(src);
  return src;
}

test(
  'an archive dir reached through a symlink into the source is left out of the set',
  { skip: missingTools('openssl') },
  async () => {
    const tmp = tempDir('deaddrop-archive-link-');
    const src = sourceDir(tmp);
    mkdirSync(join(src, 'zz-deaddrop'));
    symlinkSync(join(src, 'zz-deaddrop'), join(tmp, 'varlib-deaddrop'));
    // the directory the link leads to is left out with its contents, as an archiveDir written as is
    assert.deepEqual(await backupAndRestore(tmp, src, join(tmp, 'varlib-deaddrop')), ['./data']);
  },
);

test(
  'an archive dir under a symlinked parent, made by the run, is left out of the set',
  { skip: missingTools('openssl') },
  async () => {
    const tmp = tempDir('deaddrop-archive-parent-link-');
    const src = sourceDir(tmp);
    symlinkSync(src, join(tmp, 'srv-link'));
    assert.deepEqual(await backupAndRestore(tmp, src, join(tmp, 'srv-link', 'zz-deaddrop')), ['./data']);
  },
);
