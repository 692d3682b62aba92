/**
 * EncryptedFileWriter: write() keeps nothing of its chunk (the volume writer releases each
 * member once written), so a chunk overwritten after write() returns changes nothing stored;
 * `openssl cms -decrypt` gives back the plaintext, and the sizes and hashes it reports are
 * those of the file and of the plaintext. An existing file is not overwritten; a failed write
 * fails close() with its error, and the file is closed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadRecipients } from '@deaddrop/keys/recipients';
import { EncryptedFileWriter } from '@deaddrop/client/backup/encrypted-file';
import { makeTestRecipient, missingTools, seededBytes, tempDir } from '@deaddrop/test';

const hex = (algo: string, data: Buffer) => createHash(algo).update(data).digest('hex');

test(
  'chunks overwritten once written: the stored file still decrypts to what was written',
  { skip: missingTools('openssl') },
  async () => {
    const dir = tempDir('deaddrop-encfile-');
    const rcp = await makeTestRecipient(dir);
    const recipients = await loadRecipients([rcp.certPath]);
    const plain = seededBytes('encrypted-file', 3 * 1024 * 1024 + 12_345);
    const path = join(dir, 'vol1.difftar.gz.p7m');
    const w = new EncryptedFileWriter(path, recipients);
    // pieces across the 64 KiB segments: empty, short, one byte over, and large
    const sizes = [0, 100, 65_537, 1_000_000, 5, 65_536, 2_000_000];
    let at = 0;
    for (let i = 0; at < plain.length; i++) {
      const n = Math.min(sizes[i % sizes.length]!, plain.length - at);
      const chunk = Buffer.from(plain.subarray(at, at + n)); // the caller's own buffer
      await w.write(chunk);
      chunk.fill(0xee); // reused or released by the caller from here
      at += n;
    }
    const stored = await w.close();
    const bytes = readFileSync(path);
    assert.equal(stored.size, bytes.length);
    assert.equal(stored.sha256, hex('sha256', bytes));
    assert.equal(stored.plainSize, plain.length);
    assert.equal(stored.plainSha1, hex('sha1', plain));
    const out = join(dir, 'plain');
    const d = spawnSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-inkey', rcp.plainKeyPath, '-in', path, '-out', out]); // prettier-ignore
    assert.equal(d.status, 0, String(d.stderr));
    assert.ok(readFileSync(out).equals(plain), 'openssl decrypts the plaintext written');
  },
);

test('an existing file is an error naming it, and keeps its bytes', async () => {
  const dir = tempDir('deaddrop-encfile-');
  const rcp = await makeTestRecipient(dir);
  const path = join(dir, 'taken.p7m');
  writeFileSync(path, 'already here');
  const w = new EncryptedFileWriter(path, await loadRecipients([rcp.certPath]));
  await assert.rejects(
    (async () => {
      await w.write(Buffer.alloc(100_000, 1));
      await w.close();
    })(),
    (err: NodeJS.ErrnoException) => err.code === 'EEXIST' && err.message.includes(path),
  );
  assert.equal(readFileSync(path, 'utf8'), 'already here');
});

test('a write that fails (file size limit): close() says why and the file is closed', async () => {
  const dir = tempDir('deaddrop-encfile-');
  const rcp = await makeTestRecipient(dir);
  const module = pathToFileURL(join(import.meta.dirname, '../dist/backup/encrypted-file.js')).href;
  const recipients = pathToFileURL(join(import.meta.dirname, '../../keys/dist/recipients.js')).href;
  const code = `
    import { readdirSync } from 'node:fs';
    import { EncryptedFileWriter } from ${JSON.stringify(module)};
    import { loadRecipients } from ${JSON.stringify(recipients)};
    const fds = () => readdirSync('/proc/self/fd').length;
    const recipients = await loadRecipients([${JSON.stringify(rcp.certPath)}]);
    const before = fds();
    const w = new EncryptedFileWriter(${JSON.stringify(join(dir, 'big.p7m'))}, recipients);
    try {
      for (let i = 0; i < 8; i++) await w.write(Buffer.alloc(256 * 1024, i));
    } catch {
      // a write may fail already, or only close()
    }
    let error = 'closed';
    try {
      await w.close();
    } catch (err) {
      error = err.code;
    }
    console.log(error, fds() - before);
    try { await w.write(Buffer.alloc(1)); } catch (err) { console.log(err.message.includes('already closed') ? 'refused' : err.message); }`;
  // a 512 KiB file size limit, with SIGXFSZ ignored so the write fails with EFBIG instead
  const r = spawnSync(
    'sh',
    ['-c', `trap '' XFSZ; ulimit -f 1024; exec "$0" --input-type=module -e "$1"`, process.execPath, code],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['EFBIG 0', 'refused']);
});
