import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missingTools } from '@deaddrop/test';
import { formatManifest, parseManifest, type Manifest } from '@deaddrop/client/format/manifest';
import { quote, unquote } from '@deaddrop/client/format/quote';
import { bytesToIndex, compareIndex } from '@deaddrop/client/scan/path-index';

const b = (s: string | number[]) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));

/** Run a Python snippet against duplicity 0.8.22's own manifest module (Debian's python3). */
function duplicityPython(code: string, input: Buffer): Buffer {
  const prelude = 'import sys\nfrom duplicity import manifest, log, config\nlog.setup()\n';
  const r = spawnSync('/usr/bin/python3', ['-c', prelude + code], { input });
  if (r.status !== 0) throw new Error(`python: ${r.stderr.toString()}`);
  return r.stdout;
}

const awkward: Manifest = {
  hostname: 'vm.example',
  localdir: b('/srv/dir with space'),
  volumes: [
    { number: 1, start: [], end: [b('big1500k.bin')], endBlock: 15, hashes: { SHA1: 'a'.repeat(40) } },
    {
      number: 2,
      start: [b('big1500k.bin')],
      startBlock: 16,
      end: [b('dir with space'), b(`it's "quoted".txt`)],
      hashes: { SHA1: 'b'.repeat(40) },
    },
    {
      number: 3,
      start: [b([0x63, 0x61, 0x66, 0xe9])],
      end: [b('new\nline.txt')],
      hashes: { SHA1: 'c'.repeat(40) },
    },
  ],
  files: [
    { change: 'new', path: [b('a.txt')] },
    { change: 'changed', path: [b('dir1'), b('sub'), b('small.bin')] },
    { change: 'deleted', path: [b('tab\there')] },
  ],
};

test('quote escapes whitespace, backslash and quotes as lowercase \\xNN, leaves other bytes raw', () => {
  assert.deepEqual(
    quote(b(`dir with space/it's "quoted".txt`)).toString(),
    '"dir\\x20with\\x20space/it\\x27s\\x20\\x22quoted\\x22.txt"',
  );
  assert.deepEqual(quote(b('new\nline.txt')).toString(), '"new\\x0aline.txt"');
  assert.deepEqual(quote(b([0x63, 0xe9, 0x0b, 0x5c])), b([0x22, 0x63, 0xe9, ...b('\\x0b\\x5c'), 0x22]));
  assert.deepEqual(
    quote(b([0x63, 0xe9, 0x01])),
    b([0x63, 0xe9, 0x01]),
    'control bytes that are not whitespace stay raw',
  );
  for (const s of ['plain', 'a b', '"', '\\x20', '\'"\\ \t\n\r\f\v']) assert.deepEqual(unquote(quote(b(s))), b(s));
  assert.deepEqual(unquote(b('"A\\x2Fb"')), b('A/b'), 'upper-case hex is accepted');
  assert.throws(() => unquote(b('"abc')), /unterminated/);
});

test('manifest layout is byte-exact to what duplicity writes (trailing spaces, Filelist last)', () => {
  const text = formatManifest({
    hostname: 'vm',
    localdir: b('src'),
    volumes: [{ number: 1, start: [], end: [b('f1')], hashes: { SHA1: 'b47d4ac1d93f871f0c63ac513af8fa2cf3379c83' } }],
    files: [
      { change: 'new', path: [b('d'), b('f2')] },
      { change: 'deleted', path: [b('f1')] },
    ],
  }).toString();
  assert.equal(
    text,
    'Hostname vm\nLocaldir src\nVolume 1:\n    StartingPath   .  \n    EndingPath     f1  \n' +
      '    Hash SHA1 b47d4ac1d93f871f0c63ac513af8fa2cf3379c83\nFilelist 2\n    new      d/f2\n    deleted  f1\n',
  );
});

test('our manifest round-trips through our parser', () => {
  const back = parseManifest(formatManifest(awkward));
  assert.deepEqual(back, awkward);
});

test(
  'duplicity 0.8.22 reads our manifest: host, dir, volumes, blocks, hashes, odd names',
  { skip: missingTools('duplicity') },
  () => {
    const out = duplicityPython(
      `m = manifest.Manifest().from_string(sys.stdin.buffer.read())
w = sys.stdout.buffer.write
w(b'host %s\\n' % m.hostname.encode())
w(b'dir %s\\n' % m.local_dirname.hex().encode())
for n in sorted(m.volume_info_dict):
    v = m.volume_info_dict[n]
    w(b'vol %d %s %s %s %s %s\\n' % (n, b'/'.join(x.hex().encode() for x in v.start_index) or b'.', str(v.start_block).encode(),
      b'/'.join(x.hex().encode() for x in v.end_index) or b'.', str(v.end_block).encode(), v.hashes['SHA1'].encode()))`,
      formatManifest(awkward),
    ).toString();
    const hexIndex = (i: Buffer[]) => (i.length ? i.map((c) => c.toString('hex')).join('/') : '.');
    const expected = [
      `host ${awkward.hostname}`,
      `dir ${awkward.localdir!.toString('hex')}`,
      ...awkward.volumes.map(
        (v) =>
          `vol ${v.number} ${hexIndex(v.start)} ${v.startBlock ?? 'None'} ${hexIndex(v.end)} ${v.endBlock ?? 'None'} ${v.hashes.SHA1}`,
      ),
    ];
    assert.deepEqual(out.trimEnd().split('\n'), expected);
  },
);

test(
  'we read what duplicity writes (to_string: Filelist first, extra newline)',
  { skip: missingTools('duplicity') },
  () => {
    const text = duplicityPython(
      `m = manifest.Manifest()
m.hostname = 'h1'
m.local_dirname = b'/src/x y'
v1 = manifest.VolumeInfo()
v1.set_info(1, (), None, (b'caf\\xe9', b'n\\nl'), 7)
v1.set_hash('SHA1', 'ab'*20)
m.add_volume_info(v1)
v2 = manifest.VolumeInfo()
v2.set_info(2, (b'caf\\xe9', b'n\\nl'), 8, (b'z',), None)
v2.set_hash('MD5', 'cd'*16)
m.add_volume_info(v2)
m.files_changed = [(b'q"q', b'new')]
sys.stdout.buffer.write(m.to_string())`,
      Buffer.alloc(0),
    );
    const m = parseManifest(text);
    assert.equal(m.hostname, 'h1');
    assert.deepEqual(m.localdir, b('/src/x y'));
    assert.equal(m.volumes.length, 2);
    assert.deepEqual(m.volumes[0]!.end, [b([0x63, 0x61, 0x66, 0xe9]), b('n\nl')]);
    assert.equal(m.volumes[0]!.endBlock, 7);
    assert.equal(m.volumes[1]!.startBlock, 8);
    assert.deepEqual(m.volumes[1]!.hashes, { MD5: 'cd'.repeat(16) });
    assert.deepEqual(m.files, [{ change: 'new', path: [b('q"q')] }]);
  },
);

test('restarted runs: a volume listed again replaces it and drops higher numbers', () => {
  const vol = (n: number, h: string) =>
    `Volume ${n}:\n    StartingPath   a  \n    EndingPath     b  \n    Hash SHA1 ${h.repeat(40)}\n`;
  const m = parseManifest(b(vol(1, '1') + vol(2, '2') + vol(3, '3') + vol(2, '4')));
  assert.deepEqual(
    m.volumes.map((v) => [v.number, v.hashes.SHA1![0]]),
    [
      [1, '1'],
      [2, '4'],
    ],
  );
});

test('broken manifests fail with one line naming the source and line', () => {
  assert.throws(
    () => parseManifest(b('Volume 1:\n    StartingPath   a  \n    Hash SHA1 ab\n'), 'm1'),
    /^DeaddropError: m1: line 1: volume 1 lacks a path/,
  );
  assert.throws(
    () => parseManifest(b('Volume 1:\n    StartingPath   a  \n    EndingPath  b\n'), 'm2'),
    /m2: line 1: volume 1 has no Hash/,
  );
  assert.throws(() => parseManifest(b('Volume x:\n'), 'm3'), /m3: line 1: bad volume line/);
  assert.throws(() => parseManifest(b('Volume 1:\n    StartingPath   a zz\n'), 'm4'), /m4: line 2: block number "zz"/);
});

test('index order is tuple-of-components byte order', () => {
  const names = ['dir1-x.txt', 'dir1/sub/small.bin', 'dir1', 'B', 'a', '.', 'caf\u00e9', 'dir1/sub'];
  const sorted = names.map((n) => bytesToIndex(b(n))).sort(compareIndex);
  assert.deepEqual(
    sorted.map((i) => (i.length ? Buffer.concat(i.flatMap((c, k) => (k ? [b('/'), c] : [c]))).toString() : '.')),
    ['.', 'B', 'a', 'caf\u00e9', 'dir1', 'dir1/sub', 'dir1/sub/small.bin', 'dir1-x.txt'],
  );
});
