import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { decodeRawHeader, encodeHeader, TarType, type TarHeader } from '@deaddrop/client/archive/tar-header';
import { endOfArchive, tarEntry } from '@deaddrop/client/archive/tar-writer';
import { readTarEntries } from '@deaddrop/client/backup/tar-entries';
import { missingTools, tempDir } from '@deaddrop/test';

const PY = '/usr/bin/python3';
const b = (s: string | number[]) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));

const headers: TarHeader[] = [
  {
    name: b('snapshot/./'),
    type: TarType.DIR,
    mode: 0o755,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 1700000000,
    uname: 'root',
    gname: 'root',
  },
  {
    name: b('snapshot/a.txt'),
    type: TarType.FILE,
    mode: 0o644,
    uid: 1000,
    gid: 100,
    size: 12,
    mtime: 1577934245,
    uname: 'user',
    gname: 'users',
  },
  {
    name: b(`snapshot/${'L'.repeat(60)}/${'M'.repeat(60)}.txt`),
    type: TarType.FILE,
    mode: 0o600,
    uid: 0,
    gid: 0,
    size: 10,
    mtime: 5,
    uname: 'root',
    gname: 'root',
  },
  {
    name: b('snapshot/café-utf8.txt'),
    type: TarType.FILE,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 10,
    mtime: 5,
    uname: '',
    gname: '',
  },
  {
    name: b([...b('snapshot/caf'), 0xe9, ...b('-latin1.txt')]),
    type: TarType.FILE,
    mode: 0o4755,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 0,
    uname: 'root',
    gname: 'root',
  },
  {
    name: b('snapshot/new\nline'),
    type: TarType.SYMLINK,
    mode: 0o777,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 7,
    linkname: b('x'.repeat(150)),
    uname: 'root',
    gname: 'root',
  },
  {
    name: b('snapshot/link'),
    type: TarType.SYMLINK,
    mode: 0o777,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 7,
    linkname: b([0x2e, 0x2e, 0xff]),
    uname: 'root',
    gname: 'root',
  },
  {
    name: b('snapshot/chardev'),
    type: TarType.CHARDEV,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 7,
    devmajor: 1,
    devminor: 3,
    uname: 'root',
    gname: 'root',
  },
  {
    name: b('snapshot/fifo1'),
    type: TarType.FIFO,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 7,
    uname: 'root',
    gname: 'root',
  },
  {
    name: b('multivol_snapshot/big/3'),
    type: TarType.FILE,
    mode: 0o644,
    uid: 4294967294,
    gid: 65534,
    size: 65536,
    mtime: 99999999999,
    uname: 'nobody',
    gname: 'nogroup',
  },
  { name: b('deleted/gone'), type: TarType.FILE, mode: 0, uid: 0, gid: 0, size: 0, mtime: 0, uname: '', gname: '' },
];

/** What Python 3.11's tarfile (the writer duplicity uses) makes of the same header, pax format. */
function pythonTobuf(h: TarHeader): Buffer {
  const code = `
import sys, tarfile, json
h = json.loads(sys.stdin.read())
dec = lambda x: bytes.fromhex(x).decode('utf-8', 'surrogateescape')
ti = tarfile.TarInfo(dec(h['name']))
ti.type = h['type'].encode()
ti.mode, ti.uid, ti.gid, ti.size, ti.mtime = h['mode'], h['uid'], h['gid'], h['size'], h['mtime']
ti.linkname = dec(h['linkname']); ti.uname = h['uname']; ti.gname = h['gname']
ti.devmajor, ti.devminor = h['devmajor'], h['devminor']
sys.stdout.buffer.write(ti.tobuf(tarfile.PAX_FORMAT, 'utf-8', 'replace'))`;
  const input = JSON.stringify({
    ...h,
    name: h.name.toString('hex'),
    linkname: (h.linkname ?? b('')).toString('hex'),
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  });
  const r = spawnSync(PY, ['-c', code], { input });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return r.stdout;
}

test(
  'headers are byte-identical to Python tarfile pax (duplicity 0.8.22 on Python 3.11)',
  { skip: missingTools(PY) },
  () => {
    for (const h of headers) {
      // tarfile names directories without adding '/', duplicity passes it in: same input both sides
      assert.deepEqual(encodeHeader(h).toString('hex'), pythonTobuf(h).toString('hex'), h.name.toString('latin1'));
    }
  },
);

test(
  'a tar of those entries reads back identically with Python tarfile and our reader',
  { skip: missingTools(PY) },
  async () => {
    const dir = tempDir();
    const parts: Buffer[] = [];
    for (const h of headers) parts.push(tarEntry(h, h.size ? Buffer.alloc(h.size, 0x61) : undefined));
    const body = Buffer.concat(parts);
    const tar = Buffer.concat([body, endOfArchive(body.length)]);
    assert.equal(tar.length % 10240, 0);
    const file = join(dir, 't.tar');
    writeFileSync(file, tar);
    const r = spawnSync(PY, [
      '-c',
      `
import sys, tarfile
for m in tarfile.open(sys.argv[1]):
    print(m.name.encode('utf-8','surrogateescape').hex(), m.type.decode(), oct(m.mode), m.uid, m.gid, m.size, int(m.mtime),
          m.linkname.encode('utf-8','surrogateescape').hex() or '-', m.uname or '-', m.devmajor, m.devminor)`,
      file,
    ]);
    assert.equal(r.status, 0, r.stderr.toString());
    const expected = headers.map((h) =>
    [(h.type === TarType.DIR ? h.name.subarray(0, -1) : h.name).toString('hex'), h.type, '0o' + h.mode.toString(8), h.uid, h.gid, h.size, h.mtime,
      h.linkname?.toString('hex') || '-', h.uname || '-', h.devmajor ?? 0, h.devminor ?? 0].join(' '),
  ); // prettier-ignore
    assert.deepEqual(r.stdout.toString().trimEnd().split('\n'), expected);

    const ours = [];
    for await (const e of readTarEntries(Readable.from([tar.subarray(0, 700), tar.subarray(700)]))) {
      const data = await e.read();
      ours.push({ ...e.header, data: data.length });
    }
    assert.equal(ours.length, headers.length);
    ours.forEach((o, i) => {
      const h = headers[i]!;
      assert.deepEqual(
        [o.name, o.type, o.mode, o.uid, o.gid, o.size, o.mtime, o.data],
        [h.name, h.type, h.mode, h.uid, h.gid, h.size, h.mtime, h.size],
      );
      assert.deepEqual(o.linkname, h.linkname ?? b(''));
    });
  },
);

test('GNU tar lists the non-UTF-8 name (raw bytes) and the long name', { skip: missingTools('tar') }, () => {
  const dir = tempDir();
  const file = join(dir, 'g.tar');
  const body = Buffer.concat([tarEntry(headers[2]!, Buffer.alloc(10)), tarEntry(headers[4]!)]);
  writeFileSync(file, Buffer.concat([body, endOfArchive(body.length)]));
  const r = spawnSync('tar', ['--quoting-style=literal', '-tf', file]);
  assert.equal(r.status, 0);
  const names = r.stdout.toString('latin1').trimEnd().split('\n');
  assert.deepEqual(names, [headers[2]!.name.toString('latin1'), headers[4]!.name.toString('latin1')]);
});

test('reader: corrupt header checksum fails with one line', async () => {
  const bad = tarEntry(headers[1]!, Buffer.alloc(12));
  bad[0] ^= 1;
  await assert.rejects(async () => {
    for await (const _ of readTarEntries(Readable.from([bad]), 'x.sigtar')) void _;
  }, /x\.sigtar: tar: header checksum mismatch/);
});

/** A header block from encodeHeader with some fields overwritten, and its checksum redone. */
function craft(fields: [number, number, string | Buffer][], signedSum = false): Buffer {
  const block = Buffer.from(encodeHeader(headers[1]!));
  for (const [at, len, value] of fields) {
    block.fill(0, at, at + len);
    (typeof value === 'string' ? Buffer.from(value, 'latin1') : value).copy(block, at);
  }
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of block) sum += signedSum ? (c << 24) >> 24 : c;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

test('reader: numeric fields as tar writers vary them (spaces, NULs, base-256), and bad ones named', () => {
  const h = decodeRawHeader(
    craft([
      [100, 8, '  644 \0'], // leading spaces, space and NUL after (old tars)
      [108, 8, '\0\0\0\0\0\0\0\0'], // empty: 0
      [116, 8, '0000144 '], // space-terminated
      [124, 12, Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1])], // GNU base-256: 2^33 + 1
      [136, 12, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf6])], // -10
    ]),
  );
  assert.deepEqual([h.mode, h.uid, h.gid, h.size], [0o644, 0, 0o144, 2 ** 33 + 1]);
  assert.equal(h.mtime, -10); // two's complement, as GNU tar and Python's tarfile write it
  assert.equal(h.uname, 'user');
  assert.throws(() => decodeRawHeader(craft([[100, 8, '0000649\0']])), /tar: bad mode field "0000649"/);
  assert.throws(() => decodeRawHeader(craft([[124, 12, '12 34\0']])), /tar: bad size field "12 34"/);
  assert.throws(() => decodeRawHeader(craft([[108, 8, '\x0012\0']])), /tar: bad uid field/);
});

test('reader: a checksum summed over signed bytes (old tars) is accepted, a wrong one is not', () => {
  const name = Buffer.from('snapshot/\xe9t\xe9', 'latin1'); // bytes >= 0x80: signed and unsigned sums differ
  assert.deepEqual(decodeRawHeader(craft([[0, 100, name]], true)).name, name);
  assert.deepEqual(decodeRawHeader(craft([[0, 100, name]], false)).name, name);
  const bad = craft([[0, 100, name]]);
  bad[10] ^= 1;
  assert.throws(() => decodeRawHeader(bad), /tar: header checksum mismatch/);
});

test('reader: a negative mtime as GNU tar writes it (base-256) reads back', { skip: missingTools('tar') }, () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'old.txt'), 'hi\n');
  assert.equal(spawnSync('touch', ['-d', '@-10', join(dir, 'old.txt')]).status, 0);
  const r = spawnSync('tar', ['--format=gnu', '-cf', '-', '-C', dir, 'old.txt']);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.equal(r.stdout[136], 0xff); // base-256, two's complement
  assert.equal(decodeRawHeader(r.stdout.subarray(0, 512)).mtime, -10);
});
