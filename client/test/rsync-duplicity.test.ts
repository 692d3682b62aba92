import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { duplicitySignatureParams, MAGIC, MAX_SIGNATURE_BLOCKS } from '@deaddrop/client/rsync/index';
import { missingTools, tempDir } from '@deaddrop/test';
import { ourSignature, prng, randomBytes } from './rsync-helpers.js';

const SIZES = [0, 12, 200000, 1500000, 3145728];

// Prints "name<TAB>hex" for each signature/ entry of a gzip'ed sigtar.
const EXTRACT = `
import sys, tarfile
with tarfile.open(sys.argv[1], 'r:gz') as t:
    for m in t.getmembers():
        if m.name.startswith('signature/'):
            print(m.name[len('signature/'):] + '\\t' + t.extractfile(m).read().hex())
`;

test('duplicity params: block rule 512..2048, MD4/rollsum/8, and bounded blocks for huge files', () => {
  assert.deepEqual(duplicitySignatureParams(0), { magic: MAGIC.MD4_ROLLSUM, blockLen: 512, strongLen: 8 });
  assert.equal(duplicitySignatureParams(1_023_999).blockLen, 512);
  assert.equal(duplicitySignatureParams(2_048_000).blockLen, 1024);
  assert.equal(duplicitySignatureParams(3_145_728).blockLen, 1536);
  assert.equal(duplicitySignatureParams(100e6).blockLen, 2048);
  const huge = 20 * 2 ** 30;
  const p = duplicitySignatureParams(huge);
  assert.ok(Math.ceil(huge / p.blockLen) <= MAX_SIGNATURE_BLOCKS, `blockLen ${p.blockLen}`);
  assert.equal(p.blockLen % 512, 0);
});

test(
  'our signatures with duplicity params equal what duplicity 0.8.22 stores in its sigtar',
  { skip: missingTools('duplicity', 'python3') },
  async () => {
    const dir = tempDir();
    const src = join(dir, 'src');
    mkdirSync(src);
    const files = new Map<string, Buffer>();
    for (const size of SIZES) {
      const data = randomBytes(prng(size + 1), size);
      files.set(`f${size}`, data);
      writeFileSync(join(src, `f${size}`), data);
    }
    execFileSync(
      'duplicity',
      [
        'full',
        '--no-encryption',
        '--archive-dir',
        join(dir, 'archive'),
        '--name',
        't',
        src,
        `file://${join(dir, 'target')}`,
      ],
      { env: { ...process.env, HOME: dir }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const sigtar = readdirSync(join(dir, 'target')).find((f) => f.includes('full-signatures'));
    assert.ok(sigtar, 'duplicity wrote a full-signatures file');
    writeFileSync(join(dir, 'extract.py'), EXTRACT);
    const listing = execFileSync('python3', [join(dir, 'extract.py'), join(dir, 'target', sigtar)], {
      maxBuffer: 64 << 20,
    }).toString();
    const theirs = new Map(
      listing
        .trim()
        .split('\n')
        .map((l) => l.split('\t') as [string, string]),
    );
    assert.equal(theirs.size, SIZES.length);
    for (const [name, data] of files) {
      const ours = await ourSignature(data, duplicitySignatureParams(data.length), 65536);
      assert.equal(ours.toString('hex'), theirs.get(name), `${name}: signature differs from duplicity's`);
    }
  },
);
