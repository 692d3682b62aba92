/**
 * Damage is refused with a clear message and a non-zero exit, and nothing wrong is written: a
 * tampered volume (sums file; manifest SHA-1 for legacy sets), a missing volume, the wrong key,
 * a truncated volume, a non-empty destination. Whatever a failed restore left in DEST is
 * correct content from the volumes that checked out, and no staged file remains.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
  openSync,
  writeSync,
  readSync,
  closeSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeAwkwardTree, makeTestRecipient, missingTools, runCommand, runDeaddrop, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';
import { copyHostDir, makeChain, type Chain } from './restore-helpers.js';

/** Every regular file under `out` equals the one at the same place in `truth`; no staging is left. */
function onlyCorrect(out: string, truth: string): number {
  if (!existsSync(out)) return 0;
  let files = 0;
  const walk = (rel: Buffer) => {
    for (const n of readdirSync(Buffer.concat([Buffer.from(out), Buffer.from('/'), rel]), {
      encoding: 'buffer',
    }) as Buffer[]) {
      const r = rel.length ? Buffer.concat([rel, Buffer.from('/'), n]) : n;
      assert.ok(!n.toString().startsWith('.deaddrop-restore-'), 'a staging directory was left behind');
      if (!rel.length && n.toString() === '.deaddrop-restore.unfinished') continue; // says DEST holds a part
      const p = Buffer.concat([Buffer.from(out), Buffer.from('/'), r]);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) {
        files++;
        assert.deepEqual(
          readFileSync(p),
          readFileSync(Buffer.concat([Buffer.from(truth), Buffer.from('/'), r])),
          r.toString(),
        );
      }
    }
  };
  walk(Buffer.alloc(0));
  return files;
}

function flipByte(file: string, at: number): void {
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0] = b[0]! ^ 0x55;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
}

let chain: Chain;
let tmp: string;
let n = 0;

const copyHost = () => copyHostDir(chain, tmp);

const volume = (host: string, re: RegExp) =>
  join(
    host,
    readdirSync(host).find((f) => re.test(f))!,
  );

async function restore(host: string, extra: string[] = [], key = chain.key) {
  const out = join(tmp, `out${++n}`);
  const r = await runDeaddrop(['restore', '--from', host, '--host', 'testhost', '--key', key.keyPath,
    '--passphrase-file', key.passphraseFile, '--to', out, ...extra]); // prettier-ignore
  return { ...r, out };
}

test('restore refuses damaged sets', { skip: missingTools('cp'), timeout: 300_000 }, async (t) => {
  tmp = tempDir('deaddrop-restore-err-');
  chain = await makeChain(tmp, { incrementals: 1, sinks: 1 });
  const [s0] = chain.snapshots;

  await t.test('tampered volume: sums mismatch named, earlier volumes only', async () => {
    const host = copyHost();
    const vol2 = volume(host, /^duplicity-full\..*\.vol2\.difftar\.gz\.p7m$/);
    flipByte(vol2, statSync(vol2).size >> 1);
    const r = await restore(host);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /vol2\.difftar\.gz\.p7m.*(sums file|tampered)/);
    assert.ok(r.stderr.includes(`in --from ${host}: take that file from the other sink`), r.stderr);
    assert.match(r.stderr, /out\d+ holds part of the state \(what was restored so far; .*\): run again with --force$/m);
    onlyCorrect(r.out, s0!.dir);
  });

  await t.test('a damaged incremental: the error says DEST holds an older state, naming the file once', async () => {
    const host = copyHost();
    const vol = volume(host, /^duplicity-inc\..*\.vol1\.difftar\.gz\.p7m$/);
    truncateSync(vol, 2000);
    const r = await restore(host);
    assert.equal(r.code, 1, r.stderr);
    const name = vol.slice(host.length + 1);
    assert.equal(r.stderr.split(name).length - 1, 1, `named once: ${r.stderr}`);
    assert.ok(r.stderr.includes(`in --from ${host}: take that file from the other sink`), r.stderr);
    assert.match(
      r.stderr,
      /out\d+ holds an incomplete, older state than the one asked for \(what was restored so far; .*\): run again with --force, or restore --time \S+ into an empty directory for the last state that checked out$/m,
    );
    onlyCorrect(r.out, s0!.dir);
    // into a DEST that held something (--force): left as it was
    const busy = join(tmp, 'busy-damaged');
    mkdirSync(busy);
    writeFileSync(join(busy, 'mine'), 'x');
    const f = await runDeaddrop(['restore', '--from', host, '--host', 'testhost', '--key', chain.key.keyPath,
      '--passphrase-file', chain.key.passphraseFile, '--to', busy, '--force']); // prettier-ignore
    assert.equal(f.code, 1, f.stderr);
    assert.match(f.stderr, /busy-damaged is unchanged$/m);
    assert.deepEqual(readdirSync(busy), ['mine']);
  });

  await t.test(
    'a damaged incremental: the error says the directories are unfinished and how to restore the state before it',
    async () => {
      const host = copyHost();
      truncateSync(volume(host, /^duplicity-inc\..*\.vol1\.difftar\.gz\.p7m$/), 2000);
      const r = await restore(host);
      assert.equal(r.code, 1, r.stderr);
      // what DEST holds: the directories it made keep the staging mode until a restore finishes
      const dirs = readdirSync(r.out, { withFileTypes: true }).filter((e) => e.isDirectory());
      assert.ok(dirs.length > 0);
      for (const d of dirs) assert.equal(lstatSync(join(r.out, d.name)).mode & 0o7777, 0o700, d.name);
      assert.ok(existsSync(join(r.out, '.deaddrop-restore.unfinished')), 'DEST is marked as unfinished');
      assert.match(r.stderr, /directories it made are still mode 0700, with the restore's owner and mtime/);
      // the last state that checked out is named, and restoring it into an empty directory finishes
      const m = /restore --time (\S+) into an empty directory/.exec(r.stderr);
      assert.ok(m, r.stderr);
      const older = await restore(host, ['--time', m[1]!]);
      assert.equal(older.code, 0, older.stderr);
      assert.deepEqual(compareTrees(s0!.dir, older.out), []);
    },
  );

  await t.test('missing volume: refused before anything is written', async () => {
    const host = copyHost();
    rmSync(volume(host, /^duplicity-full\..*\.vol3\.difftar\.gz\.p7m$/));
    const r = await restore(host);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /incomplete: missing duplicity-full\.\d{8}T\d{6}Z\.vol3\.difftar\.gz\.p7m/);
    assert.ok(!existsSync(r.out) || readdirSync(r.out).length === 0);
  });

  await t.test('a sums file that does not list every file: refused, naming set and file', async () => {
    const empty = copyHost();
    const sums = (host: string) => volume(host, /^deaddrop-full\..*\.sha256sums$/);
    writeFileSync(sums(empty), '');
    const r = await restore(empty);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /set full\.\w+: its sums file deaddrop-full\.\w+\.sha256sums does not list duplicity-full\.\w+\.manifest\.p7m/,
    );
    assert.ok(!existsSync(r.out) || readdirSync(r.out).length === 0);

    const partial = copyHost();
    const lines = readFileSync(sums(partial), 'utf8').split('\n');
    writeFileSync(sums(partial), lines.filter((l) => !/\.vol2\.difftar/.test(l)).join('\n'));
    const p = await restore(partial);
    assert.equal(p.code, 1, p.stderr);
    assert.match(
      p.stderr,
      /sums file deaddrop-full\.\w+\.sha256sums does not list duplicity-full\.\w+\.vol2\.difftar\.gz\.p7m/,
    );
    assert.ok(!existsSync(p.out) || readdirSync(p.out).length === 0);
  });

  await t.test('wrong key: refused before anything is written', async () => {
    const other = await makeTestRecipient(join(tmp, 'other'), { cn: 'someone else', bits: 2048 });
    const r = await restore(copyHost(), [], other);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /manifest/);
    assert.ok(!existsSync(r.out) || readdirSync(r.out).length === 0);
  });

  await t.test('truncated volume: error names it, no half-written file', async () => {
    const host = copyHost();
    const vol = volume(host, /^duplicity-full\..*\.vol2\.difftar\.gz\.p7m$/);
    truncateSync(vol, statSync(vol).size >> 1);
    const r = await restore(host);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /vol2\.difftar\.gz\.p7m/);
    onlyCorrect(r.out, s0!.dir);
  });

  await t.test('--to that is not a directory: a usage error (exit 2) naming it', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const dangling = join(tmp, 'dangling');
    symlinkSync(join(tmp, 'nowhere'), dangling);
    const cases: [string, RegExp][] = [
      [file, /--to .*a-file: not a directory$/m],
      [dangling, /--to .*dangling: a dangling symlink$/m],
      [join(file, 'below'), /--to .*a-file\/below: a parent is not a directory$/m],
    ];
    for (const [to, message] of cases) {
      const r = await runDeaddrop(['restore', '--from', chain.sinks[0]!, '--host', 'testhost', '--key', chain.key.keyPath,
        '--passphrase-file', chain.key.passphraseFile, '--to', to]); // prettier-ignore
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    }
    assert.equal(readFileSync(file, 'utf8'), 'x');
    assert.ok(!existsSync(join(tmp, 'nowhere')));
  });

  await t.test('non-empty destination: refused without --force, restored with it', async () => {
    const out = join(tmp, 'busy');
    mkdirSync(out);
    writeFileSync(join(out, 'keep'), 'x');
    const args = ['restore', '--from', chain.sinks[0]!, '--host', 'testhost', '--key', chain.key.keyPath,
      '--passphrase-file', chain.key.passphraseFile, '--to', out]; // prettier-ignore
    const r = await runDeaddrop(args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /not empty.*--force/);
    assert.deepEqual(readdirSync(out), ['keep']);
    const f = await runDeaddrop([...args, '--force']);
    assert.equal(f.code, 0, f.stderr);
    assert.deepEqual(compareTrees(chain.snapshots[1]!.dir, out, { ignore: ['keep'] }), []);
  });
});

test(
  'legacy set: a volume that differs from its manifest SHA-1 is refused',
  { skip: missingTools('duplicity', 'cp'), timeout: 120_000 },
  async () => {
    const dir = tempDir('deaddrop-restore-sha1-');
    const src = join(dir, 'src');
    mkdirSync(src);
    makeAwkwardTree(src);
    const target = join(dir, 'target');
    const d = await runCommand('duplicity', ['full', '--no-encryption', '--no-compression', '--archive-dir', join(dir, 'cache'),
    '--volsize', '1', src, `file://${target}`], { env: { ...process.env, HOME: dir } }); // prettier-ignore
    assert.equal(d.code, 0, d.stderr);
    // a byte of file content in the first volume (past the headers): the tar still parses
    const vol1 = join(
      target,
      readdirSync(target).find((f) => /\.vol1\.difftar$/.test(f))!,
    );
    const data = readFileSync(vol1);
    const at = data.indexOf('hello world');
    assert.ok(at > 0);
    flipByte(vol1, at);
    const out = join(dir, 'out');
    const r = await runDeaddrop(['restore', '--from', target, '--host', hostname(), '--to', out]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /vol1\.difftar: SHA-1 [0-9a-f]{40} differs from the manifest/);
    assert.ok(!existsSync(join(out, 'a.txt')), 'nothing of the tampered volume is in place');
  },
);
