import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { before, describe, test } from 'node:test';
import {
  CmsError,
  createDecryptStream,
  createEncryptStream,
  loadPrivateKey,
  loadRecipients,
  SEGMENT_SIZE,
  type PrivateKey,
  type Recipient,
} from '@deaddrop/keys';
import { END_OF_CONTENTS, indefinite, Tag, tlv } from '@deaddrop/keys/asn1/der';
import { CmsEncryptor } from '@deaddrop/keys/cms/encrypt';
import { encodeOid, Oid } from '@deaddrop/keys/asn1/oids';
import { recipientInfos } from '@deaddrop/keys/cms/recipient-info';
import { makeTestRecipient, missingTools, runCommand, tempDir } from '@deaddrop/test';

// The streams themselves: the exact layout we write (read back by openssl asn1parse), every BER
// framing of the content the decryptor must accept, any input chunking, truncation anywhere,
// and bounded buffering when the consumer is slow.
const dir = tempDir();

async function collect(input: Buffer[] | Buffer, stream: Transform): Promise<Buffer> {
  const out: Buffer[] = [];
  const chunks = Array.isArray(input) ? input : [input];
  await pipeline(
    Readable.from(chunks, { objectMode: false }),
    stream,
    new Writable({
      write(chunk: Buffer, _e, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

/** Split `bytes` into pieces of pseudo-random sizes 1..max. */
function chop(bytes: Buffer, max: number, seed = 7): Buffer[] {
  const pieces: Buffer[] = [];
  let s = seed;
  for (let i = 0; i < bytes.length;) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (s % max);
    pieces.push(bytes.subarray(i, i + n));
    i += n;
  }
  return pieces;
}

/** The elements of a DER/BER file as `openssl asn1parse` lists them. */
async function asn1Items(file: string): Promise<{ depth: number; length: string; type: string; value?: string }[]> {
  const parsed = await runCommand('openssl', ['asn1parse', '-inform', 'DER', '-in', file]);
  assert.equal(parsed.code, 0, parsed.stderr);
  return parsed.stdout.split('\n').flatMap((line) => {
    const m = /^\s*(\d+):d=(\d+)\s+hl=(\d+)\s+l=\s*(\d+|inf)\s+(prim|cons):\s+([^:[]*?)\s*(?::(\S*)|\[|$)/.exec(
      line.slice(0, 200),
    );
    return m ? [{ depth: Number(m[2]), length: m[4]!, type: m[6]!.trim(), value: m[7] }] : [];
  });
}

/** Lengths of the ciphertext's OCTET STRING segments, in order. */
function segmentLengths(items: Awaited<ReturnType<typeof asn1Items>>): number[] {
  const content = items.findIndex((i) => i.depth === 4 && i.type === 'cont');
  return items
    .slice(content)
    .filter((i) => i.depth === 5 && i.type === 'OCTET STRING')
    .map((i) => Number(i.length));
}

describe('CMS streams', () => {
  let recipient: Recipient;
  let key: PrivateKey;
  let plainKeyPath: string;
  let certPath: string;
  before(async () => {
    const r = await makeTestRecipient(dir, { cn: 'Stream tests' });
    [recipient] = await loadRecipients([r.certPath]);
    key = await loadPrivateKey(r.keyPath, r.passphrase);
    plainKeyPath = r.plainKeyPath;
    certPath = r.certPath;
  });

  test(
    'layout: indefinite lengths, 64 KiB primitive segments, five EOCs (openssl asn1parse)',
    { skip: missingTools('openssl') },
    async () => {
      const plain = randomBytes(3 * SEGMENT_SIZE + 1000);
      const message = await collect(chop(plain, 9000), createEncryptStream([recipient!]));
      const file = join(dir, 'layout.p7m');
      writeFileSync(file, message);
      const items = await asn1Items(file);
      const outline = items
        .filter((i) => i.depth <= 4 && i.type !== 'OCTET STRING')
        .map((i) => `${i.depth} ${i.type} ${i.length}`)
        .join(', ');
      assert.match(
        outline,
        new RegExp(
          '^0 SEQUENCE inf, 1 OBJECT 9, 1 cont inf, 2 SEQUENCE inf, 3 INTEGER 1, 3 SET \\d+, 4 SEQUENCE \\d+, ' +
            '3 SEQUENCE inf, 4 OBJECT 9, 4 SEQUENCE 29, 4 cont inf, 4 EOC 0, 3 EOC 0, 2 EOC 0, 1 EOC 0$',
        ),
      );
      assert.equal(items.find((i) => i.type === 'OBJECT' && i.depth === 1)!.value, 'pkcs7-envelopedData');
      assert.equal(
        items.find((i) => i.type === 'OBJECT' && i.depth === 4 && i.value === 'pkcs7-data')?.value,
        'pkcs7-data',
      );
      assert.ok(items.some((i) => i.value === 'aes-256-cbc'));
      assert.ok(items.some((i) => i.value === 'rsaEncryption'));
      const segments = segmentLengths(items);
      // ciphertext = plaintext padded to the next whole block
      const cipherLength = (Math.floor(plain.length / 16) + 1) * 16;
      assert.deepEqual(segments, [SEGMENT_SIZE, SEGMENT_SIZE, SEGMENT_SIZE, cipherLength - 3 * SEGMENT_SIZE]);
      assert.equal(items.filter((i) => i.type === 'EOC').length, 5);
      assert.equal(items.find((i) => i.type === 'INTEGER' && i.depth === 3)!.value, '00', 'version 0');
      assert.deepEqual(message.subarray(-10), Buffer.alloc(10));
      // and the stock tool agrees on the content
      const out = join(dir, 'layout.out');
      const dec = await runCommand('openssl', [
        'cms',
        '-decrypt',
        '-binary',
        '-inform',
        'DER',
        '-in',
        file,
        '-inkey',
        plainKeyPath,
        '-out',
        out,
      ]);
      assert.equal(dec.code, 0, dec.stderr);
    },
  );

  test(
    'whole 64 KiB segments whatever the plaintext chunks (CmsEncryptor: around and across segment ends)',
    { skip: missingTools('openssl') },
    async () => {
      const sizes = [1, 15, 16, 17, 65535, 65536, 65537, 0, 100_000, 3, 131_072, 7, 200_001, 65_520];
      const pieces = sizes.map((n, i) => randomBytes(n).fill(i, 0, Math.min(n, 8)));
      const plain = Buffer.concat(pieces);
      const enc = new CmsEncryptor([recipient!]);
      const message = Buffer.concat([...pieces.map((p) => Buffer.from(enc.update(p))), enc.final()]);
      const file = join(dir, 'chunked.p7m');
      writeFileSync(file, message);
      const cipherLength = (Math.floor(plain.length / 16) + 1) * 16;
      const full = Math.floor(cipherLength / SEGMENT_SIZE);
      const segments = segmentLengths(await asn1Items(file));
      assert.deepEqual(segments.slice(0, full), Array(full).fill(SEGMENT_SIZE));
      assert.deepEqual(segments.slice(full), cipherLength % SEGMENT_SIZE ? [cipherLength % SEGMENT_SIZE] : []);
      assert.ok((await collect(chop(message, 50_000), createDecryptStream(key!))).equals(plain), 'ours decrypts it');
      const out = join(dir, 'chunked.out');
      const dec = await runCommand('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', file, '-inkey', plainKeyPath, '-out', out]); // prettier-ignore
      assert.equal(dec.code, 0, dec.stderr);
      assert.ok(readFileSync(out).equals(plain), 'openssl decrypts it');
    },
  );

  test('any chunking of the input decrypts to the same bytes (1-byte writes included)', async () => {
    const plain = randomBytes(150_000);
    const message = await collect(chop(plain, 70_000, 3), createEncryptStream([recipient!]));
    for (const max of [1, 7, 4096, 100_000]) {
      const input = max === 1 && message.length > 20_000 ? chop(message, 1) : chop(message, max, max);
      assert.ok((await collect(input, createDecryptStream(key!))).equals(plain), `pieces up to ${max} bytes`);
    }
  });

  /** A message with the given content framing (the [0] element and what follows it). */
  function framed(
    plain: Buffer,
    frame: (ciphertext: Buffer) => Buffer,
    definiteOuter: boolean,
    extra: Buffer = Buffer.alloc(0),
  ) {
    const cek = randomBytes(32);
    const iv = randomBytes(16);
    const c = createCipheriv('aes-256-cbc', cek, iv);
    const ciphertext = Buffer.concat([c.update(plain), c.final()]);
    const alg = tlv(Tag.SEQUENCE, tlv(Tag.OID, encodeOid(Oid.aes256Cbc)), tlv(Tag.OCTET_STRING, iv));
    const eciBody = [tlv(Tag.OID, encodeOid(Oid.data)), alg, frame(ciphertext)];
    const edBody = [tlv(Tag.INTEGER, Buffer.from([0])), recipientInfos([recipient!], cek)];
    if (definiteOuter) {
      const ed = tlv(Tag.SEQUENCE, ...edBody, tlv(Tag.SEQUENCE, ...eciBody), extra);
      return tlv(Tag.SEQUENCE, tlv(Tag.OID, encodeOid(Oid.envelopedData)), tlv(0xa0, ed));
    }
    return Buffer.concat([
      indefinite(Tag.SEQUENCE), tlv(Tag.OID, encodeOid(Oid.envelopedData)), indefinite(0xa0), indefinite(Tag.SEQUENCE),
      ...edBody, indefinite(Tag.SEQUENCE), ...eciBody, END_OF_CONTENTS, extra, END_OF_CONTENTS, END_OF_CONTENTS, END_OF_CONTENTS,
    ]); // prettier-ignore
  }

  const segments = (c: Buffer, size: number) => chop(c, size, 11).map((s) => tlv(Tag.OCTET_STRING, s));
  const framings: [string, (c: Buffer) => Buffer, boolean][] = [
    ['definite, primitive [0] (openssl cms without -stream)', (c) => tlv(0x80, c), true],
    ['definite, constructed [0] (node-forge)', (c) => tlv(0xa0, ...segments(c, 5000)), true],
    ['indefinite, nested constructed segments', (c) => Buffer.concat([indefinite(0xa0), tlv(0x24, ...segments(c.subarray(0, 40_000), 999)), indefinite(0x24), ...segments(c.subarray(40_000), 3000), END_OF_CONTENTS, END_OF_CONTENTS]), false], // prettier-ignore
    ['indefinite, empty segments mixed in', (c) => Buffer.concat([indefinite(0xa0), tlv(Tag.OCTET_STRING), ...segments(c, 20_000), tlv(Tag.OCTET_STRING), END_OF_CONTENTS]), false], // prettier-ignore
  ];
  for (const [name, frame, definite] of framings) {
    test(`reads ${name}`, async () => {
      const plain = randomBytes(65_000);
      const message = framed(plain, frame, definite);
      assert.ok((await collect(chop(message, 10_000), createDecryptStream(key!))).equals(plain));
    });
  }

  test(
    'skips unprotectedAttrs and is checked by openssl on the same message',
    { skip: missingTools('openssl') },
    async () => {
      const plain = Buffer.from('with attributes');
      const attrs = tlv(0xa1, tlv(Tag.SEQUENCE, tlv(Tag.OID, encodeOid('1.2.3.4')), tlv(Tag.SET, tlv(Tag.NULL))));
      const message = framed(plain, (c) => tlv(0x80, c), true, attrs);
      assert.ok((await collect(message, createDecryptStream(key!))).equals(plain));
      // version 0 with attributes is lax, but openssl reads the hand-made framing: it is valid CMS
      const file = join(dir, 'attrs.p7m');
      writeFileSync(
        file,
        framed(plain, (c) => tlv(0x80, c), true),
      );
      const dec = await runCommand('openssl', [
        'smime',
        '-decrypt',
        '-binary',
        '-inform',
        'DER',
        '-in',
        file,
        '-inkey',
        plainKeyPath,
        '-recip',
        certPath,
      ]);
      assert.equal(dec.code, 0, dec.stderr);
      assert.equal(dec.stdout, 'with attributes');
    },
  );

  test('every truncation of a message is an error, and so is trailing data', async () => {
    const plain = Buffer.from('forty bytes of plaintext, give or take.!');
    const message = await collect(plain, createEncryptStream([recipient!]));
    for (let cut = 0; cut < message.length; cut++) {
      await assert.rejects(collect(message.subarray(0, cut), createDecryptStream(key!)), (err: Error) => {
        assert.ok(err instanceof CmsError, `cut at ${cut}: ${err.message}`);
        assert.match(err.message, cut === 0 ? /empty input/ : /truncated|corrupt/);
        return true;
      });
    }
    await assert.rejects(
      collect(Buffer.concat([message, Buffer.from([0x30])]), createDecryptStream(key!)),
      /trailing data/,
    );
  });

  test('a truncated stream never emits the last block', async () => {
    const plain = randomBytes(100_005); // the last block carries 5 bytes of plaintext
    const message = await collect(plain, createEncryptStream([recipient!]));
    const out: Buffer[] = [];
    const dec = createDecryptStream(key!);
    dec.on('data', (d: Buffer) => out.push(d));
    await assert.rejects(pipeline(Readable.from([message.subarray(0, message.length - 3)]), dec), /truncated/);
    assert.ok(Buffer.concat(out).length < plain.length);
  });

  test('backpressure: a stalled consumer stops the producer with bounded buffering', async () => {
    for (const [name, make, chunk] of [
      ['encrypt', () => createEncryptStream([recipient!]), randomBytes(64 * 1024)],
      ['decrypt', () => createDecryptStream(key!), null],
    ] as const) {
      const stream = make();
      let input: Buffer[];
      if (chunk) input = Array(200).fill(chunk);
      else
        input = chop(
          await collect(Array(200).fill(randomBytes(64 * 1024)), createEncryptStream([recipient!])),
          65536,
          1,
        );
      let accepted = 0;
      for (const c of input) {
        accepted++;
        if (!stream.write(c)) break;
        await new Promise((r) => setImmediate(r));
      }
      // let the stream work through what it has, nobody reading
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      const buffered = stream.writableLength + stream.readableLength;
      assert.ok(accepted < 10, `${name}: write() said stop after ${accepted} chunks`);
      assert.ok(buffered < 1024 * 1024, `${name}: ${buffered} bytes buffered`);
      stream.destroy();
    }
  });
});
