/**
 * duplicity 0.8.22 as the writer oracle: chains it wrote without encryption (gzip'ed, and
 * --no-compression plain tar) restore byte-exact with `deaddrop restore` at every point in
 * time; and a duplicity 3.x --use-gpgsm style set (each file CMS-encrypted, uncompressed tar,
 * under .gpg names) restores with the key.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  makeAwkwardTree,
  makeTestRecipient,
  missingTools,
  mutateTree,
  runCommand,
  runDeaddrop,
  tempDir,
} from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';

const newestTime = (dir: string): string =>
  readdirSync(dir)
    .filter((n) => n.includes('.manifest'))
    .map((n) => /(\d{8}T\d{6}Z)\.manifest/.exec(n)![1]!)
    .sort()
    .pop()!;

/** A duplicity chain (full + 2 incrementals) of the awkward tree; returns the times and source copies. */
async function duplicityChain(
  tmp: string,
  extra: string[],
): Promise<{ target: string; points: { time: string; dir: string }[] }> {
  const src = join(tmp, 'src');
  const target = join(tmp, 'target');
  mkdirSync(src);
  makeAwkwardTree(src);
  const env = { ...process.env, HOME: join(tmp, 'home') };
  const points: { time: string; dir: string }[] = [];
  for (let step = 0; step <= 2; step++) {
    if (step > 0) {
      mutateTree(src, step);
      await new Promise((r) => setTimeout(r, 1100)); // duplicity times are whole seconds
    }
    const r = await runCommand('duplicity', [step === 0 ? 'full' : 'incremental', '--no-encryption', ...extra,
      '--archive-dir', join(tmp, 'cache'), '--volsize', '1', src, `file://${target}`], { env }); // prettier-ignore
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const snap = join(tmp, `snap${step}`);
    assert.equal(spawnSync('cp', ['-a', src, snap]).status, 0);
    points.push({ time: newestTime(target), dir: snap });
  }
  return { target, points };
}

for (const [label, extra] of [
  ['gzip', []],
  ['--no-compression', ['--no-compression']],
] as const)
  test(
    `duplicity 0.8.22 chain (${label}) restores byte-exact at every time`,
    { skip: missingTools('duplicity', 'cp'), timeout: 300_000 },
    async () => {
      const tmp = tempDir('deaddrop-restore-dup-');
      const { target, points } = await duplicityChain(tmp, [...extra]);
      assert.ok(readdirSync(target).some((n) => n.endsWith(label === 'gzip' ? '.difftar.gz' : '.difftar')));
      for (const [i, p] of points.entries()) {
        const out = join(tmp, `out${i}`);
        // the target itself is the host directory; no key: nothing is encrypted
        const r = await runDeaddrop(['restore', '--from', target, '--host', hostname(), '--to', out, '--time', p.time]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(compareTrees(p.dir, out), [], `time ${p.time}`);
      }
    },
  );

test(
  'a duplicity 3.x --use-gpgsm style set (CMS under .gpg, plain tar inside) restores with the key',
  { skip: missingTools('duplicity', 'openssl', 'cp'), timeout: 300_000 },
  async () => {
    const tmp = tempDir('deaddrop-restore-gpgsm-');
    const { target, points } = await duplicityChain(tmp, ['--no-compression']);
    const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
    const enc = join(tmp, 'encrypted');
    mkdirSync(enc);
    for (const n of readdirSync(target)) {
      const e = spawnSync('openssl', ['cms', '-encrypt', '-binary', '-outform', 'DER', '-aes256', '-in', join(target, n),
        '-out', join(enc, `${n}.gpg`), key.certPath]); // prettier-ignore
      assert.equal(e.status, 0, e.stderr.toString());
    }
    const out = join(tmp, 'out');
    const base = ['restore', '--from', enc, '--host', hostname(), '--to', out];
    const noKey = await runDeaddrop(base);
    assert.notEqual(noKey.code, 0);
    assert.match(noKey.stderr, /--key/);
    rmSync(out, { recursive: true, force: true });
    const r = await runDeaddrop([...base, '--key', key.keyPath, '--passphrase-file', key.passphraseFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(compareTrees(points[2]!.dir, out), []);
  },
);

test(
  'an old manifest with only MD5 hashes: volumes are checked against them (duplicity falls back to MD5 too)',
  { skip: missingTools('duplicity', 'cp'), timeout: 300_000 },
  async () => {
    const tmp = tempDir('deaddrop-restore-md5-');
    const { target, points } = await duplicityChain(tmp, []);
    // each manifest's Hash SHA1 lines become Hash MD5 of the same volume files
    for (const m of readdirSync(target).filter((n) => n.endsWith('.manifest'))) {
      const prefix = m.slice(0, -'manifest'.length);
      let volume = 0;
      const lines = readFileSync(join(target, m), 'latin1')
        .split('\n')
        .map((line) => {
          const v = /^Volume (\d+):/.exec(line);
          if (v) volume = Number(v[1]);
          if (!/^\s+Hash SHA1 /.test(line)) return line;
          const md5 = createHash('md5').update(readFileSync(join(target, `${prefix}vol${volume}.difftar.gz`)));
          return `    Hash MD5 ${md5.digest('hex')}`;
        });
      writeFileSync(join(target, m), lines.join('\n'), 'latin1');
    }
    const restore = (out: string) =>
      runDeaddrop(['restore', '--from', target, '--host', hostname(), '--to', join(tmp, out)]);
    const ok = await restore('ok');
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(compareTrees(points[2]!.dir, join(tmp, 'ok')), []);

    // the same tar in other gzip bytes: a valid volume, but not the one the manifest names
    const full = readdirSync(target).find((n) => n.startsWith('duplicity-full.') && n.endsWith('.vol1.difftar.gz'))!;
    writeFileSync(join(target, full), gzipSync(gunzipSync(readFileSync(join(target, full))), { level: 1 }));
    const swapped = await restore('swapped');
    assert.notEqual(swapped.code, 0);
    assert.match(
      swapped.stderr,
      new RegExp(`${full.replaceAll('.', '\\.')}: MD5 [0-9a-f]{32} differs from the manifest`),
    );
  },
);
