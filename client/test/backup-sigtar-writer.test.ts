/**
 * The signature archive's gzip: members of at most 1 MiB of tar, the same bytes in the cache and
 * (decrypted by openssl) in the set, a tar of every entry given.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { SigtarWriter } from '@deaddrop/client/backup/sigtar-writer';
import { readTarEntries } from '@deaddrop/client/backup/tar-entries';
import { loadRecipients } from '@deaddrop/keys/recipients';
import { makeTestRecipient, missingTools, seededBytes, tempDir } from '@deaddrop/test';

const MiB = 1 << 20;

/** The plain bytes of each gzip member of `gz`, in order (zlib's 10-byte header, no name). */
function members(gz: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < gz.length;) {
    assert.deepEqual([...gz.subarray(at, at + 4)], [0x1f, 0x8b, 8, 0], `a member's header at ${at}`);
    const r = inflateRawSync(gz.subarray(at + 10), { info: true }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    out.push(r.buffer);
    at += 10 + r.engine.bytesWritten + 8; // header, deflate stream, CRC-32 and size
  }
  return out;
}

test(
  'a signature archive of 2.6 MB of tar: three members, cache and set alike',
  { skip: missingTools('openssl') },
  async () => {
    const dir = tempDir('deaddrop-sigtar-');
    const key = await makeTestRecipient(join(dir, 'keys'), { bits: 2048 });
    const recipients = await loadRecipients([key.certPath]);
    const w = new SigtarWriter(join(dir, 'cache.gz'), join(dir, 'set.p7m'), recipients);
    // signatures of random bytes (MD4 sums do not compress), of sizes that cross member bounds
    const sizes = [300_000, 700_001, 5, 1_000_000, 0, 700_000];
    for (const [i, size] of sizes.entries()) {
      const data = seededBytes(`sig${i}`, size);
      await w.add({ name: Buffer.from(`signature/f${i}`), mode: 0o644, uid: 0, gid: 0, size, mtime: 1_700_000_000 + i, type: '0' }, data); // prettier-ignore
    }
    const stored = await w.finish();

    const cache = readFileSync(join(dir, 'cache.gz'));
    const parts = members(cache);
    const tar = Buffer.concat(parts);
    assert.equal(tar.length % 10240, 0, 'the tar is padded to whole records');
    assert.ok(tar.length > 2.5 * MiB, `${tar.length} bytes of tar`);
    assert.equal(parts.length, Math.ceil(tar.length / MiB));
    for (const p of parts.slice(0, -1)) assert.equal(p.length, MiB, 'every member but the last holds 1 MiB of tar');

    const names: string[] = [];
    for await (const e of readTarEntries(Readable.from([tar]))) {
      const i = names.length;
      names.push(e.header.name.toString());
      assert.deepEqual(await e.read(), seededBytes(`sig${i}`, sizes[i]!), `entry ${i}'s data`);
    }
    assert.deepEqual(
      names,
      sizes.map((_, i) => `signature/f${i}`),
    );

    assert.equal(stored.plainSha1, createHash('sha1').update(cache).digest('hex'));
    const plain = join(dir, 'set.plain');
    const d = spawnSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-inkey', key.plainKeyPath, '-in', join(dir, 'set.p7m'), '-out', plain]); // prettier-ignore
    assert.equal(d.status, 0, d.stderr.toString());
    assert.ok(readFileSync(plain).equals(cache), 'the set holds the cache bytes, encrypted');
  },
);
