/**
 * duplicity 0.8.22 as the writer oracle: chains it wrote without encryption (gzip'ed, and
 * --no-compression plain tar) restore byte-exact with `deaddrop restore` at every point in
 * time; and a duplicity 3.x --use-gpgsm style set (each file CMS-encrypted, uncompressed tar,
 * under .gpg names) restores with the key.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
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
        const r = await runDeaddrop(['restore', '--from', target, '--host', 'legacy', '--to', out, '--time', p.time]);
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
    const base = ['restore', '--from', enc, '--host', 'legacy', '--to', out];
    const noKey = await runDeaddrop(base);
    assert.notEqual(noKey.code, 0);
    assert.match(noKey.stderr, /--key/);
    rmSync(out, { recursive: true, force: true });
    const r = await runDeaddrop([...base, '--key', key.keyPath, '--passphrase-file', key.passphraseFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(compareTrees(points[2]!.dir, out), []);
  },
);
