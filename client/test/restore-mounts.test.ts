/**
 * DEST holding a mount point (a bare-metal layout with DEST/dir1 a file system of its own):
 * content staged at DEST's root cannot be renamed across, and restore copies it next to its
 * place instead, attributes kept. Needs root (mount -t tmpfs), as in CI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { needsRoot, runDeaddrop, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';
import { makeChain } from './restore-helpers.js';

test(
  'DEST with a mount point inside: restored across it',
  { skip: needsRoot('mount -t tmpfs', 'mount', 'umount', 'cp', 'mkfifo'), timeout: 300_000 },
  async () => {
    const tmp = tempDir('deaddrop-restore-mounts-');
    const chain = await makeChain(tmp, { incrementals: 1, sinks: 1 });
    const dest = join(tmp, 'dest');
    const mountPoint = join(dest, 'dir1');
    mkdirSync(mountPoint, { recursive: true });
    const m = spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', mountPoint]);
    assert.equal(m.status, 0, m.stderr.toString());
    try {
      const r = await runDeaddrop(['restore', '--from', chain.sinks[0]!, '--host', 'testhost', '--key', chain.key.keyPath,
        '--passphrase-file', chain.key.passphraseFile, '--to', dest, '--force']); // prettier-ignore
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(compareTrees(chain.snapshots[1]!.dir, dest), []);
    } finally {
      const u = spawnSync('umount', [mountPoint]);
      assert.equal(u.status, 0, u.stderr.toString());
    }
  },
);
