/**
 * A restore run by an ordinary user: an incremental patches a file whose mode denies its owner
 * reading (0000, as a backup made as root holds it), and the patched file comes back with its
 * content and that mode. The backup's root denies its owner writing (0555): the restore still
 * removes its marker and lock from DEST, whose mode and mtime end as backed up. The CLI runs as
 * nobody (setpriv), so the test itself needs root.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  deaddropArgv,
  makeTestRecipient,
  needsRoot,
  runCommand,
  runDeaddrop,
  seededBytes,
  tempDir,
  writeLocalClientConfig,
} from '@deaddrop/test';

/** The user the CLI runs as. */
const NOBODY = { uid: 65534, gid: 65534 };

test(
  'non-root restore patches a file its owner may not read',
  { skip: needsRoot('it runs the CLI as nobody with setpriv', 'setpriv', 'cp', 'chown'), timeout: 300_000 },
  async () => {
    const tmp = tempDir('deaddrop-restore-nonroot-');
    chmodSync(tmp, 0o755); // nobody walks through it
    const src = join(tmp, 'src');
    mkdirSync(src);
    const locked = join(src, 'locked.bin');
    const content = seededBytes('locked', 200_000);
    writeFileSync(locked, content);
    chmodSync(locked, 0o000);
    chmodSync(src, 0o555);
    const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
    const sink = join(tmp, 'sink');
    const { config } = writeLocalClientConfig(tmp, {
      host: 'testhost',
      sources: [src],
      recipients: [key.certPath],
      sinkRoot: sink,
    });
    const full = await runDeaddrop(['backup', '--config', config]);
    assert.equal(full.code, 0, full.stderr);
    seededBytes('patch', 4096).copy(content, 100_000); // a small change: the incremental holds a delta
    writeFileSync(locked, content);
    chmodSync(locked, 0o000);
    const inc = await runDeaddrop(['backup', '--config', config]);
    assert.equal(inc.code, 0, inc.stderr);

    // what nobody may read and write: the sink, the key, DEST's parent
    const mine = join(tmp, 'nobody');
    mkdirSync(mine);
    assert.equal(spawnSync('cp', ['-a', sink, join(mine, 'sink')]).status, 0);
    for (const f of [key.keyPath, key.passphraseFile]) copyFileSync(f, join(mine, f.split('/').pop()!));
    assert.equal(spawnSync('chown', ['-R', `${NOBODY.uid}:${NOBODY.gid}`, mine]).status, 0);
    chownSync(mine, NOBODY.uid, NOBODY.gid);

    const out = join(mine, 'out');
    const [node, ...pre] = deaddropArgv();
    const r = await runCommand('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', node!, ...pre,
    'restore', '--from', join(mine, 'sink'), '--host', 'testhost', '--key', join(mine, key.keyPath.split('/').pop()!),
    '--passphrase-file', join(mine, key.passphraseFile.split('/').pop()!), '--to', out]); // prettier-ignore
    assert.equal(r.code, 0, r.stderr);
    const st = lstatSync(join(out, 'locked.bin'));
    assert.equal(st.mode & 0o7777, 0o000);
    assert.equal(st.uid, NOBODY.uid);
    assert.deepEqual(readFileSync(join(out, 'locked.bin')), content); // read as root
    const root = lstatSync(out);
    assert.equal(root.mode & 0o7777, 0o555);
    assert.equal(Math.trunc(root.mtimeMs / 1000), Math.trunc(lstatSync(src).mtimeMs / 1000));
    assert.deepEqual(readdirSync(out), ['locked.bin'], 'neither marker nor lock is left');
  },
);
