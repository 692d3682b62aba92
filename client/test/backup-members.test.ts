/**
 * How a volume is cut into gzip members. A daily incremental interleaves small diffs with small
 * new files and directories, in jobs the workers run; each piece as a member of its own
 * deflates with an empty dictionary, so they must share members. The
 * members are counted in the volume decrypted with openssl, and the set must still restore.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import {
  makeTestRecipient,
  missingTools,
  runDeaddrop,
  seededText,
  tempDir,
  writeLocalClientConfig,
} from '@deaddrop/test';

/** The members of a gzip file: each one's compressed and plain sizes (RFC 1952, no FEXTRA/FCOMMENT from us). */
function gzipMembers(gz: Buffer): { packed: number; plain: number }[] {
  const members: { packed: number; plain: number }[] = [];
  for (let at = 0; at < gz.length;) {
    assert.equal(gz.readUInt16BE(at), 0x1f8b, `a gzip member at byte ${at}`);
    const flags = gz[at + 3]!;
    let body = at + 10;
    if (flags & 0x08) body = gz.indexOf(0, body) + 1; // FNAME
    const { buffer, engine } = inflateRawSync(gz.subarray(body), { info: true }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    const end = body + engine.bytesWritten + 8; // CRC32 and ISIZE
    members.push({ packed: end - at, plain: buffer.length });
    at = end;
  }
  return members;
}

/** The members of a set's first volume on the sink, decrypted with openssl. */
function firstVolumeMembers(sinkHostDir: string, type: 'full' | 'inc', keyPath: string, tmp: string) {
  const vol = readdirSync(sinkHostDir).find(
    (n) => n.startsWith(`duplicity-${type}.`) && n.endsWith('.vol1.difftar.gz.p7m'),
  );
  assert.ok(vol, `the ${type} set has a first volume`);
  const plain = join(tmp, `${type}-vol1.difftar.gz`);
  const dec = spawnSync('openssl', [
    'cms', '-decrypt', '-binary', '-inform', 'DER', '-inkey', keyPath, '-in', join(sinkHostDir, vol), '-out', plain,
  ]); // prettier-ignore
  assert.equal(dec.status, 0, dec.stderr.toString());
  return gzipMembers(readFileSync(plain));
}

test(
  'an incremental of small diffs and new files between them packs them into one member, not one each',
  { skip: missingTools('openssl'), timeout: 120_000 },
  async () => {
    const tmp = tempDir('deaddrop-members-');
    const src = join(tmp, 'src');
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(src, `d${d}`), { recursive: true });
      for (let f = 0; f < 10; f++) writeFileSync(join(src, `d${d}`, `f${f}.conf`), seededText(`${d}/${f}`, 3000));
    }
    const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
    const sink = join(tmp, 'sink');
    const { config } = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath], sinkRoot: sink });
    const full = await runDeaddrop(['backup', '--full', '-q', '--config', config]);
    assert.equal(full.code, 0, full.stderr);
    // every directory: one file changed (a diff), one new file and one new directory after it
    for (let d = 0; d < 20; d++) {
      appendFileSync(join(src, `d${d}`, 'f3.conf'), `changed ${d}\n`);
      writeFileSync(join(src, `d${d}`, 'g.conf'), seededText(`new ${d}`, 2000));
      mkdirSync(join(src, `d${d}`, 'h'));
    }
    const inc = await runDeaddrop(['backup', '--incremental', '-q', '--config', config]);
    assert.equal(inc.code, 0, inc.stderr);

    const members = firstVolumeMembers(join(sink, 'h1'), 'inc', key.plainKeyPath, tmp);
    const tarBytes = members.reduce((n, m) => n + m.plain, 0);
    assert.ok(tarBytes > 60 * 1024, `the volume holds the 20 diffs, new files and directories (${tarBytes} bytes)`);
    // all of it is well under a member's 1 MiB: one member, and the empty end-of-volume one at most
    assert.ok(members.length <= 2, `members: ${JSON.stringify(members)}`);

    const out = join(tmp, 'restored');
    const r = await runDeaddrop(['restore', '-q', '--from', sink, '--host', 'h1', '--key', key.plainKeyPath, '--to', out]); // prettier-ignore
    assert.equal(r.code, 0, r.stderr);
    for (let d = 0; d < 20; d++) {
      assert.deepEqual(readFileSync(join(out, `d${d}`, 'f3.conf')), readFileSync(join(src, `d${d}`, 'f3.conf')));
      assert.deepEqual(readFileSync(join(out, `d${d}`, 'g.conf')), readFileSync(join(src, `d${d}`, 'g.conf')));
    }
  },
);

test(
  'a large compressible file: each 16-chunk range of it is one member, no chunk deflated alone',
  { skip: missingTools('openssl'), timeout: 120_000 },
  async () => {
    const tmp = tempDir('deaddrop-members-range-');
    const src = join(tmp, 'src');
    mkdirSync(src, { recursive: true });
    // 4 MiB of log-like text: at least 4 ranges (large files are cut at 1 MiB, jobs.ts)
    const log = Buffer.from(seededText('range-log', 4 << 20)).subarray(0, 4 << 20);
    writeFileSync(join(src, 'app.log'), log);
    const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
    const sink = join(tmp, 'sink');
    const { config } = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath], sinkRoot: sink });
    const full = await runDeaddrop(['backup', '--full', '-q', '--config', config]);
    assert.equal(full.code, 0, full.stderr);

    const chunkTar = 512 + 64 * 1024; // a multivol chunk's header and data
    const sizes = firstVolumeMembers(join(sink, 'h1'), 'full', key.plainKeyPath, tmp).map((m) => m.plain);
    // a range: its 16 chunks whole in one member
    assert.ok(
      sizes.filter((n) => n === 16 * chunkTar).length >= 3,
      `members of one whole range (${16 * chunkTar} bytes): ${sizes.join(', ')}`,
    );
    assert.ok(!sizes.includes(chunkTar), `a chunk in a member of its own: ${sizes.join(', ')}`);

    const out = join(tmp, 'restored');
    const r = await runDeaddrop(['restore', '-q', '--from', sink, '--host', 'h1', '--key', key.plainKeyPath, '--to', out]); // prettier-ignore
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readFileSync(join(out, 'app.log')), log);
  },
);
