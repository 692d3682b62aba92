/**
 * The set's local writers on a full disk (/dev/full: every write is ENOSPC): the error reaches
 * the run, naming the file, instead of ending the process from a stream nobody listened to
 * (the manifest's Filelist did) or saying only "write" (Node does not name the file of a
 * failed write).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManifestWriter } from '@deaddrop/client/backup/manifest-writer';
import { SigtarWriter } from '@deaddrop/client/backup/sigtar-writer';
import { loadRecipients } from '@deaddrop/keys/recipients';
import { makeTestRecipient, missingTools, missingUnless, seededBytes, tempDir } from '@deaddrop/test';

const noDevFull = missingUnless(existsSync('/dev/full'), 'no /dev/full');
const ENOSPC_DEV_FULL = /ENOSPC: no space left on device, write '\/dev\/full'/;

test(
  'the manifest Filelist on a full disk: a named error at the next line or at the end',
  { skip: noDevFull },
  async () => {
    const w = new ManifestWriter({ hostname: 'h1', localdir: Buffer.from('/') }, '/dev/full');
    const out = join(tempDir('deaddrop-full-manifest-'), 'manifest');
    await assert.rejects(async () => {
      for (let i = 0; i < 20_000; i++) await w.addFile('new', [Buffer.from(`dir/file-${i}`)]);
      await w.writeTo(out);
    }, ENOSPC_DEV_FULL);
    w.abort();
    assert.equal(existsSync(out), false, 'no manifest was written');
  },
);

test(
  'the cached signature archive on a full disk: a named error',
  { skip: noDevFull || missingTools('openssl') },
  async () => {
    const dir = tempDir('deaddrop-full-sigtar-');
    const key = await makeTestRecipient(join(dir, 'keys'), { bits: 2048 });
    const w = new SigtarWriter('/dev/full', join(dir, 'set.p7m'), await loadRecipients([key.certPath]));
    await assert.rejects(async () => {
      for (let i = 0; i < 4; i++) {
        const data = seededBytes(`sig${i}`, 700_000);
        await w.add({ name: Buffer.from(`signature/f${i}`), mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 1_700_000_000, type: '0' }, data); // prettier-ignore
      }
      await w.finish();
    }, ENOSPC_DEV_FULL);
    w.abort();
  },
);
