import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashFile } from '@deaddrop/common';
import { formatSums, parseSums, sha256File } from '@deaddrop/client/format/sums';
import { missingTools, tempDir } from '@deaddrop/test';

test(
  'written sums verify with sha256sum -c; sha256File matches sha256sum',
  { skip: missingTools('sha256sum') },
  async () => {
    const dir = tempDir();
    const files = {
      'a.difftar.gz.p7m': randomBytes(3 * 1024 * 1024 + 17),
      'b.manifest.p7m': Buffer.alloc(0),
      c: Buffer.from('x'),
    };
    const entries = [];
    for (const [name, data] of Object.entries(files)) {
      writeFileSync(join(dir, name), data);
      entries.push({ name, sha256: await sha256File(join(dir, name)) });
    }
    writeFileSync(join(dir, 'set.sha256sums'), formatSums(entries));
    const ok = spawnSync('sha256sum', ['-c', '--strict', 'set.sha256sums'], { cwd: dir, encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);

    // and sha256sum's own output parses to the same entries
    const theirs = spawnSync('sha256sum', Object.keys(files), { cwd: dir, encoding: 'utf8' });
    assert.deepEqual(parseSums(theirs.stdout), entries);

    // a changed file makes sha256sum -c fail, and our hash changes with it
    writeFileSync(join(dir, 'c'), 'y');
    assert.notEqual(await sha256File(join(dir, 'c')), entries[2]!.sha256);
    assert.notEqual(spawnSync('sha256sum', ['-c', 'set.sha256sums'], { cwd: dir }).status, 0);
  },
);

test('hashFile streams: size, progress and digest agree with one-shot hashing for odd chunk sizes', async () => {
  const dir = tempDir();
  const data = randomBytes(1_000_003);
  const path = join(dir, 'f');
  writeFileSync(path, data);
  const progress: number[] = [];
  const r = await hashFile(path, { chunkSize: 65_536, onProgress: (n) => progress.push(n) });
  assert.equal(r.hex, createHash('sha256').update(data).digest('hex'));
  assert.equal(r.size, data.length);
  assert.equal(progress.at(-1), data.length);
  assert.equal(progress.length, Math.ceil(data.length / 65_536));
  const sha1 = await hashFile(path, { algorithm: 'sha1', chunkSize: 7 });
  assert.equal(sha1.hex, createHash('sha1').update(data).digest('hex'));
});

test('parseSums accepts binary marker, CRLF, escaped names and blank lines', () => {
  const h = 'A'.repeat(64);
  const parsed = parseSums(`${h} *one\r\n\n${'b'.repeat(64)}  two words\n\\${'c'.repeat(64)}  back\\\\slash\\nnl\n`);
  assert.deepEqual(parsed, [
    { sha256: 'a'.repeat(64), name: 'one' },
    { sha256: 'b'.repeat(64), name: 'two words' },
    { sha256: 'c'.repeat(64), name: 'back\\slash\nnl' },
  ]);
});

test('parseSums errors name the file and the line', () => {
  const good = `${'a'.repeat(64)}  x\n`;
  const cases: [string, RegExp][] = [
    [`${good}${'a'.repeat(63)}  y\n`, /set\.sums: line 2: expected 64 hex digits/],
    [`${good}${'g'.repeat(64)}  y\n`, /set\.sums: line 2: expected 64 hex digits/],
    [`${'a'.repeat(64)} y\n`, /set\.sums: line 1: expected two spaces/],
    [`${'a'.repeat(64)}  \n`, /set\.sums: line 1: no file name/],
    [`${good}${good}`, /set\.sums: line 2: x listed twice/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseSums(text, 'set.sums'), re);
});

test('formatSums refuses what it could not write unescaped', () => {
  assert.throws(() => formatSums([{ sha256: 'a'.repeat(64), name: 'a\nb' }]), /cannot be written unescaped/);
  assert.throws(() => formatSums([{ sha256: 'xyz', name: 'a' }]), /not a SHA-256/);
});
