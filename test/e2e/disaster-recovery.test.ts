/**
 * docs/DISASTER-RECOVERY.md, followed literally: the shell blocks marked `<!-- dr-test: … -->`
 * run with bash (real scp, sha256sum, openssl, gpgsm with a throwaway GNUPGHOME, duplicity
 * 0.8.22) against a chain written by `deaddrop backup` to two file:// sinks: a full, two
 * incrementals and a fourth set whose upload was cut on sink A (no sums file, no manifest).
 * Each run sets the document's variables (FROM, KEY, CERT, PASSFILE, WORK, DEST, WHEN, FILE)
 * and picks the blocks of one path through the document; the restored tree must equal the
 * source as it was at that time, byte for byte.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  makeAwkwardTree,
  makeTestRecipient,
  missingTools,
  mutateTree,
  repoRoot,
  runCommand,
  runDeaddrop,
  seededBytes,
  tempDir,
  treeListing,
  type TestRecipient,
} from '@deaddrop/test';
import { markedShellBlocks, scriptOf } from '@deaddrop/test/markdown-steps';

const skip = missingTools('bash', 'scp', 'sha256sum', 'openssl', 'gpgsm', 'gpgconf', 'duplicity', 'cp');
const DOC = join(repoRoot, 'docs', 'DISASTER-RECOVERY.md');
const HOST = 'testhost';

test('the markers of docs/DISASTER-RECOVERY.md: every path through the document has its steps', () => {
  const blocks = markedShellBlocks(readFileSync(DOC, 'utf8'), 'dr-test');
  const tags = new Set(blocks.flatMap((b) => b.tags));
  assert.deepEqual([...tags].sort(), ['all', 'file', 'gpgsm', 'latest', 'openssl', 'time']);
  // the marked blocks are the real commands, not placeholders
  const all = blocks.map((b) => b.code).join('\n');
  for (const cmd of ['scp -rp', 'sha256sum -c', 'openssl cms -decrypt', 'gpgsm --batch', 'duplicity restore'])
    assert.ok(all.includes(cmd), cmd);
  assert.throws(() => markedShellBlocks('<!-- dr-test: all -->\ntext\n', 'dr-test'), /not followed/);
  assert.throws(() => markedShellBlocks('<!-- dr-test: all -->\n```sh\nls\n', 'dr-test'), /not closed/);
});

interface Chain {
  tmp: string;
  key: TestRecipient;
  sinks: { A: string; B: string };
  /** The source as it was at each set, and that set's time as in the file names. */
  points: { when: string; snapshot: string }[];
  /** Files of the cut upload left on sink A. */
  cutOnA: string[];
}

async function makeChain(): Promise<Chain> {
  const tmp = tempDir('deaddrop-dr-');
  const src = join(tmp, 'src');
  mkdirSync(src);
  makeAwkwardTree(src, { bigSize: 700_000 });
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const sinks = { A: join(tmp, 'sinkA'), B: join(tmp, 'sinkB') };
  for (const dir of Object.values(sinks)) mkdirSync(join(dir, HOST), { recursive: true });
  const config = join(tmp, 'client.json');
  writeFileSync(
    config,
    JSON.stringify({
      host: HOST,
      sources: [src],
      recipients: [key.certPath],
      sinks: [
        { name: 'a', url: `file://${sinks.A}/${HOST}/` },
        { name: 'b', url: `file://${sinks.B}/${HOST}/` },
      ],
      archiveDir: join(tmp, 'archive'),
      volumeSize: '256KiB',
    }),
  );
  const points: Chain['points'] = [];
  let before = new Set<string>();
  let cutOnA: string[] = [];
  for (let step = 0; step <= 3; step++) {
    if (step === 1 || step === 2) mutateTree(src, step);
    if (step === 3) writeFileSync(join(src, 'after-the-cut.bin'), seededBytes('cut', 400_000));
    const r = await runDeaddrop(['backup', '--config', config, '--json']);
    assert.equal(r.code, 0, `deaddrop backup (step ${step}) exited ${r.code}: ${r.stderr}${r.stdout}`);
    const names = readdirSync(join(sinks.A, HOST));
    const added = names.filter((n) => !before.has(n));
    before = new Set(names);
    const sums = added.filter((n) => /^deaddrop-.*\.sha256sums$/.test(n));
    assert.equal(sums.length, 1, `one sums file per set: ${added.join(' ')}`);
    const when = /(\d{8}T\d{6}Z)\.sha256sums$/.exec(sums[0]!)![1]!;
    const snapshot = join(tmp, `snap${step}`);
    const cp = spawnSync('cp', ['-a', src, snapshot]);
    assert.equal(cp.status, 0, cp.stderr.toString());
    points.push({ when, snapshot });
    if (step === 3) {
      // the upload of the fourth set was cut on sink A after the volumes and the signatures
      // (the upload order is volumes, signatures, manifest, sums file)
      for (const n of added.filter((n) => n.includes('.manifest.') || n === sums[0])) rmSync(join(sinks.A, HOST, n));
      cutOnA = readdirSync(join(sinks.A, HOST))
        .filter((n) => added.includes(n))
        .sort();
      assert.ok(cutOnA.length >= 2, `pieces of the cut set stay on A: ${cutOnA.join(' ')}`);
    }
  }
  assert.deepEqual(
    readdirSync(join(sinks.B, HOST)).sort(),
    [...before].sort(),
    'sink B holds every set, the fourth one whole',
  );
  return { tmp, key, sinks, points, cutOnA };
}

interface Path {
  /** Which sink is copied. */
  sink: 'A' | 'B';
  decrypt: 'openssl' | 'gpgsm';
  restore: 'latest' | 'time' | 'file';
  /** Index into points for WHEN. */
  at?: number;
  file?: string;
}

interface Followed {
  work: string;
  dest: string;
  stdout: string;
  stderr: string;
}

/** Run the document's blocks for one path, in a fresh directory, with its variables set. */
async function follow(chain: Chain, path: Path): Promise<Followed> {
  const blocks = markedShellBlocks(readFileSync(DOC, 'utf8'), 'dr-test');
  const script = scriptOf(blocks, ['all', path.decrypt, path.restore]);
  const dir = join(chain.tmp, `follow-${path.sink}-${path.decrypt}-${path.restore}`);
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  const work = join(dir, 'work');
  const dest = join(dir, 'restored');
  after(() => {
    // the document's last step stops the agent; this is for runs that failed before it
    if (existsSync(join(work, 'gnupg')))
      spawnSync('gpgconf', ['--homedir', join(work, 'gnupg'), '--kill', 'gpg-agent']);
  });
  const file = join(dir, 'steps.sh');
  writeFileSync(file, `set -euo pipefail\n${script}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    FROM: join(chain.sinks[path.sink], HOST),
    KEY: chain.key.keyPath,
    CERT: chain.key.certPath,
    PASSFILE: chain.key.passphraseFile,
    WORK: work,
    DEST: dest,
  };
  delete env.GNUPGHOME;
  if (path.at !== undefined) env.WHEN = chain.points[path.at]!.when;
  if (path.file !== undefined) env.FILE = path.file;
  const r = await runCommand('bash', [file], { cwd: dir, env });
  assert.equal(r.code, 0, `${file} failed:\n${r.stdout}\n${r.stderr}`);
  // step 4 saw one clean chain: step 2 left nothing incomplete behind
  assert.match(r.stdout, /Found primary backup chain with matching signature chain/);
  assert.match(r.stdout, /No orphaned or incomplete backup sets found/);
  // step 6 removed the plaintext copy
  assert.equal(existsSync(join(work, 'plain')), false, 'the decrypted copy is gone');
  return { work, dest, stdout: r.stdout, stderr: r.stderr };
}

test(
  'docs/DISASTER-RECOVERY.md followed literally restores byte-exact with openssl or gpgsm and duplicity 0.8.22, from either sink',
  { skip, timeout: 600_000 },
  async (t) => {
    const chain = await makeChain();
    const [p0, p1, p2, p3] = chain.points;
    const last = chain.points.length - 1;

    await t.test('sink A, openssl, latest: the cut fourth set is put aside, the third is restored', async () => {
      const r = await follow(chain, { sink: 'A', decrypt: 'openssl', restore: 'latest' });
      assert.deepEqual(readdirSync(join(r.work, 'aside')).sort(), chain.cutOnA);
      assert.deepEqual(treeListing(r.dest), treeListing(p2!.snapshot));
    });

    await t.test('sink B, gpgsm, latest: the fourth set is whole there and restored', async () => {
      const r = await follow(chain, { sink: 'B', decrypt: 'gpgsm', restore: 'latest' });
      assert.deepEqual(readdirSync(join(r.work, 'aside')), []);
      assert.deepEqual(treeListing(r.dest), treeListing(p3!.snapshot));
    });

    await t.test('sink A, gpgsm, --time of the full set', async () => {
      const r = await follow(chain, { sink: 'A', decrypt: 'gpgsm', restore: 'time', at: 0 });
      assert.deepEqual(treeListing(r.dest), treeListing(p0!.snapshot));
    });

    await t.test('sink B, openssl, --file-to-restore of a directory that only the second set has', async () => {
      const r = await follow(chain, { sink: 'B', decrypt: 'openssl', restore: 'file', at: 1, file: 'newdir' });
      assert.deepEqual(treeListing(r.dest), treeListing(join(p1!.snapshot, 'newdir')));
      assert.equal(existsSync(join(chain.points[last]!.snapshot, 'newdir')), false, 'gone in later sets');
    });
  },
);
