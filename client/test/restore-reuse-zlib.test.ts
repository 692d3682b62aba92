/**
 * A restore that reuses its buffers (openPayload's `reuse`: the read and decrypt rings) and
 * inflates with zlib (DEADDROP_DEFLATE=zlib, or no ISA-L addon): zlib works on the thread pool
 * and its stream reads ahead, so it gets copies; the plaintext comes out as it went in.
 */
process.env.DEADDROP_DEFLATE = 'zlib'; // before the addon is first loaded, in this process

import assert from 'node:assert/strict';
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createEncryptStream } from '@deaddrop/keys/cms/encrypt';
import { loadRecipients } from '@deaddrop/keys/recipients';
import { igzipInflater } from '@deaddrop/client/native/igzip';
import { DirSource } from '@deaddrop/client/restore/dir-source';
import { keyLoader } from '@deaddrop/client/restore/key';
import { openPayload } from '@deaddrop/client/restore/payload';
import { makeTestRecipient, seededBytes, tempDir } from '@deaddrop/test';

test('reused read and decrypt buffers, zlib inflating: the bytes that were stored', async () => {
  assert.equal(igzipInflater(), null, 'igzip is off in this process');
  const dir = tempDir('deaddrop-reuse-zlib-');
  const rcp = await makeTestRecipient(dir);
  // half text-like (inflates to more chunks than it has), half random
  const text = Buffer.from('a line of a log that compresses well, 0123456789\n'.repeat(80_000));
  const plain = Buffer.concat([text, seededBytes('reuse-zlib', 3 * 1024 * 1024)]);
  writeFileSync(join(dir, 'plain.gz'), gzipSync(plain, { level: 1 }));
  await pipeline(
    Readable.from([gzipSync(plain, { level: 1 })]),
    createEncryptStream(await loadRecipients([rcp.certPath])),
    createWriteStream(join(dir, 'f.p7m')),
  );
  const source = new DirSource(dir);
  const out: Buffer[] = [];
  const key = keyLoader(rcp.plainKeyPath, undefined);
  for await (const chunk of await openPayload(source, 'f.p7m', key, {}, { reuse: true })) out.push(Buffer.from(chunk));
  assert.ok(Buffer.concat(out).equals(plain), 'bytes differ');
  // a plain (legacy) gzip file through the read ring alone
  const legacy: Buffer[] = [];
  for await (const chunk of await openPayload(source, 'plain.gz', key, {}, { reuse: true }))
    legacy.push(Buffer.from(chunk));
  assert.ok(Buffer.concat(legacy).equals(plain), 'legacy bytes differ');
});
