/**
 * `deaddrop list` shows the chain's sets with their volumes and stored sizes and flags a set
 * whose volume is gone; `list --files` gives the tree at each time (type, size, mode, mtime
 * as the source had them, patched sizes included); `deaddrop verify` finds 0 differences
 * against the source and names each changed object, exit 1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { showBytes } from '@deaddrop/client/restore/show-bytes';
import { makeChain } from './restore-helpers.js';

interface Listing {
  chains: { sets: { type: string; volumes: number; storedBytes: number; missing: string[] }[] }[];
}
interface Files {
  root?: string;
  files: { path: string; type: string; size: number; mode: number; mtime: number }[];
}

/** path → "type size mode mtime" of every object under dir (sockets skipped), as list --files reports them. */
function expected(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  const walk = (rel: Buffer) => {
    const path = rel.length ? Buffer.concat([Buffer.from(`${dir}/`), rel]) : Buffer.from(dir);
    const st = lstatSync(path);
    if (st.isSocket()) return;
    const type = st.isFile()
      ? 'file'
      : st.isDirectory()
        ? 'dir'
        : st.isSymbolicLink()
          ? 'symlink'
          : st.isFIFO()
            ? 'fifo'
            : 'chardev';
    const mode = (st.mode & 0o7777).toString(8);
    m.set(
      rel.length ? showBytes(rel) : '.',
      `${type} ${st.isFile() ? st.size : 0} ${mode} ${Math.trunc(st.mtimeMs / 1000)}`,
    );
    if (st.isDirectory())
      for (const n of readdirSync(path, { encoding: 'buffer' }) as Buffer[])
        walk(rel.length ? Buffer.concat([rel, Buffer.from('/'), n]) : n);
  };
  walk(Buffer.alloc(0));
  return m;
}

test('list, list --files and verify', { skip: missingTools('cp'), timeout: 300_000 }, async () => {
  const tmp = tempDir('deaddrop-restore-list-');
  const chain = await makeChain(tmp, { incrementals: 2, sinks: 1 });
  const from = ['--from', chain.sinks[0]!, '--host', 'testhost'];
  const key = ['--key', chain.key.keyPath, '--passphrase-file', chain.key.passphraseFile];

  const l = await runDeaddrop(['list', ...from, '--json']);
  assert.equal(l.code, 0, l.stderr);
  const listing = JSON.parse(l.stdout) as Listing;
  assert.equal(listing.chains.length, 1);
  assert.deepEqual(
    listing.chains[0]!.sets.map((s) => s.type),
    ['full', 'inc', 'inc'],
  );
  const hostDir = join(chain.sinks[0]!, 'testhost');
  const stored = readdirSync(hostDir).reduce((n, f) => n + statSync(join(hostDir, f)).size, 0);
  assert.equal(
    listing.chains[0]!.sets.reduce((n, s) => n + s.storedBytes, 0),
    stored,
  );
  for (const s of listing.chains[0]!.sets) assert.deepEqual(s.missing, []);

  for (const snap of chain.snapshots) {
    const r = await runDeaddrop(['list', ...from, ...key, '--files', '--time', snap.time, '--json']);
    assert.equal(r.code, 0, r.stderr);
    // the backup root the paths are relative to
    assert.equal((JSON.parse(r.stdout) as Files).root, realpathSync(chain.src));
    // names as text: the Latin-1 name's byte shows as \xe9
    const got = new Map(
      (JSON.parse(r.stdout) as Files).files.map((f) => [
        f.path,
        `${f.type} ${f.size} ${(f.mode & 0o7777).toString(8)} ${f.mtime}`,
      ]),
    );
    const want = expected(snap.dir);
    want.delete('.');
    got.delete('.');
    assert.deepEqual(new Map([...got].sort()), new Map([...want].sort()), snap.time);
  }

  const v = await runDeaddrop(['verify', ...from, ...key, '--against', chain.src, '--json']);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.deepEqual((JSON.parse(v.stdout) as { differences: unknown[] }).differences, []);

  writeFileSync(join(chain.src, 'a.txt'), 'HELLO WORLD\nAND MORE\n'); // same size, new content
  chmodSync(join(chain.src, 'secret'), 0o600);
  rmSync(join(chain.src, 'dir1-x.txt'));
  const lstatA = lstatSync(join(chain.snapshots[2]!.dir, 'a.txt'));
  spawnSync('touch', ['-d', `@${Math.trunc(lstatA.mtimeMs / 1000)}`, join(chain.src, 'a.txt')]);
  const d = await runDeaddrop(['verify', ...from, ...key, '--against', chain.src, '--json']);
  assert.equal(d.code, 1, d.stderr);
  const diffs = (JSON.parse(d.stdout) as { differences: { path: string; what: string }[] }).differences;
  assert.deepEqual(
    diffs.map((x) => `${x.what} ${x.path}`).sort(),
    ['content a.txt', 'missing dir1-x.txt', 'mode secret', 'mtime .'].sort(),
  );

  // a volume gone: list names it
  rmSync(
    join(
      hostDir,
      readdirSync(hostDir).find((f) => /^duplicity-full\..*\.vol2\./.test(f))!,
    ),
  );
  const m = await runDeaddrop(['list', ...from]);
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /full .*INCOMPLETE: missing volume 2/);
});
