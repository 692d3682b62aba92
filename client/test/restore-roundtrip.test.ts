/**
 * Round trip: a full + 3 incrementals of the awkward tree, each point in time restored by
 * `deaddrop restore` from sink A alone and from sink B alone (inflating with the ISA-L addon
 * from A, with zlib from B), compared byte for byte and
 * attribute by attribute (compareTrees: type, mode, mtime, size, content, link target, owner
 * as root) with the copy of the source taken at that time. DEST may be a symlink to a
 * directory.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';
import { makeChain } from './restore-helpers.js';

test(
  'full + 3 incrementals: every point in time restores byte-exact from either sink alone',
  { skip: missingTools('cp', 'mkfifo'), timeout: 300_000 },
  async () => {
    const tmp = tempDir('deaddrop-restore-rt-');
    const chain = await makeChain(tmp);
    for (const [s, sink] of chain.sinks.entries()) {
      // from sink B, without the addons: volumes inflated by zlib, hashed and files made on the
      // main thread: both ways must do
      const env = { ...process.env, ...(s === 1 ? { DEADDROP_DEFLATE: 'zlib', DEADDROP_POOL: 'off' } : {}) };
      // the other sink is gone: this one alone must do
      for (const [i, snap] of chain.snapshots.entries()) {
        const out = join(tmp, `restored-${s}-${i}`);
        const r = await runDeaddrop(['restore', '--from', sink, '--host', 'testhost', '--key', chain.key.keyPath,
          '--passphrase-file', chain.key.passphraseFile, '--to', out, '--time', snap.time, '--json'], { env }); // prettier-ignore
        assert.equal(r.code, 0, r.stderr);
        const report = JSON.parse(r.stdout) as { sets: unknown[]; volumesRead: number };
        assert.equal(report.sets.length, i + 1);
        assert.deepEqual(compareTrees(snap.dir, out), [], `sink ${s}, time ${snap.time}`);
        rmSync(out, { recursive: true });
      }
    }
    // without --time: the latest
    const out = join(tmp, 'latest');
    const r = await runDeaddrop(['restore', '--from', join(chain.sinks[1]!, 'testhost'), '--host', 'testhost',
      '--key', chain.key.keyPath, '--passphrase-file', chain.key.passphraseFile, '--to', out]); // prettier-ignore
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(compareTrees(chain.snapshots[3]!.dir, out), []);

    // --to a symlink to a directory: that directory takes the root's mode, owner and mtime too
    const real = join(tmp, 'real');
    mkdirSync(real);
    symlinkSync(real, join(tmp, 'link'));
    const l = await runDeaddrop(['restore', '--from', chain.sinks[0]!, '--host', 'testhost', '--key', chain.key.keyPath,
      '--passphrase-file', chain.key.passphraseFile, '--to', join(tmp, 'link')]); // prettier-ignore
    assert.equal(l.code, 0, l.stderr);
    assert.deepEqual(compareTrees(chain.snapshots[3]!.dir, real), []);
  },
);
