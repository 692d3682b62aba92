import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, tempDir } from '@deaddrop/test';
import { checkFraming, contentInfoShape, FrameWalker } from '../src/ber.js';
import { encrypt, testRecipients } from './tree.js';

function walk(data: Buffer, chunk: number): string {
  const w = new FrameWalker();
  for (let i = 0; i < data.length; i += chunk) w.update(data.subarray(i, i + chunk));
  return w.result();
}

async function both(dir: string, name: string, data: Buffer): Promise<string[]> {
  const path = join(dir, name);
  writeFileSync(path, data);
  return [checkFraming(path), walk(data, 1), walk(data, 7), walk(data, 65536)];
}

test('our CMS output: ok whole; every cut is truncated, appended bytes are trailing (streamed and positioned walks agree)', async () => {
  const dir = tempDir();
  const rcp = await testRecipients(dir);
  const msg = await encrypt(rcp, randomBytes(150_000)); // three 64 KiB segments
  assert.deepEqual(await both(dir, 'm', msg), ['ok', 'ok', 'ok', 'ok']);
  const cuts = [1, 2, 10, 300, 65_000, msg.length - 11, msg.length - 2, msg.length - 1];
  for (const n of cuts) {
    const cut = msg.subarray(0, n);
    writeFileSync(join(dir, 'cut'), cut);
    assert.equal(checkFraming(join(dir, 'cut')), 'truncated', `cut at ${n}`);
    assert.equal(walk(cut, 4096), 'truncated', `streamed cut at ${n}`);
  }
  assert.deepEqual(await both(dir, 'trail', Buffer.concat([msg, Buffer.from([0])])), [
    'trailing',
    'trailing',
    'trailing',
    'trailing',
  ]);
  assert.deepEqual(await both(dir, 'empty', Buffer.alloc(0)), ['truncated', 'truncated', 'truncated', 'truncated']);
  // an OpenPGP packet header is not BER that ends where the file does
  assert.notEqual((await both(dir, 'pgp', Buffer.from([0x85, 0x01, 0x0c, 0x03])))[0], 'ok');
});

test(
  'openssl smime output, DER (definite) and -stream (indefinite): ok whole, truncated when cut',
  { skip: missingTools('openssl') },
  async () => {
    const dir = tempDir();
    const key = join(dir, 'k.pem');
    const cert = join(dir, 'c.pem');
    const gen = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      '/CN=t',
      '-days',
      '2',
    ]);
    assert.equal(gen.status, 0, gen.stderr.toString());
    writeFileSync(join(dir, 'in'), randomBytes(20_000));
    for (const extra of [[], ['-stream']]) {
      const out = join(dir, `out${extra.length}`);
      const r = spawnSync('openssl', [
        'smime',
        '-encrypt',
        '-binary',
        '-aes256',
        '-outform',
        'DER',
        ...extra,
        '-in',
        join(dir, 'in'),
        '-out',
        out,
        cert,
      ]);
      assert.equal(r.status, 0, r.stderr.toString());
      const data = readFileSync(out);
      assert.equal(data[1] === 0x80, extra.length > 0, 'indefinite length only with -stream');
      assert.deepEqual(await both(dir, 'whole', data), ['ok', 'ok', 'ok', 'ok']);
      assert.deepEqual(await both(dir, 'cut', data.subarray(0, data.length - 5)), [
        'truncated',
        'truncated',
        'truncated',
        'truncated',
      ]);
    }
  },
);

test('contentInfoShape: our CMS opens EnvelopedData; a cut prefix is more; other well-framed BER is invalid', async () => {
  const dir = tempDir();
  const msg = await encrypt(await testRecipients(dir), randomBytes(1000));
  assert.equal(contentInfoShape(msg.subarray(0, 32)), 'ok');
  for (const n of [1, 2, 5, 13, 15]) assert.equal(contentInfoShape(msg.subarray(0, n)), 'more', `cut at ${n}`);
  const hex = (h: string) => Buffer.from(h.replace(/ /g, ''), 'hex');
  const invalid = {
    'empty SEQUENCE': '30 00',
    'too short for the OID': '30 05 06 03 2a 86 48',
    // id-signedData (…7.2), a DER length
    signedData: '30 82 01 00 06 09 2a 86 48 86 f7 0d 01 07 02 a0 82 00 f0 30',
    'no [0] after the OID': '30 80 06 09 2a 86 48 86 f7 0d 01 07 03 30 80 30',
    'a SET': '31 80 06 09 2a 86 48 86 f7 0d 01 07 03 a0 80 30',
  };
  for (const [what, h] of Object.entries(invalid)) assert.equal(contentInfoShape(hex(h)), 'invalid', what);
});
