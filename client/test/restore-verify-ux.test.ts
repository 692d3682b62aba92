/**
 * verify reports what restore would warn about (an incomplete set left out), counts the
 * objects it compared (not the entries of every set applied), refuses an --against that is
 * not a directory as a usage error, and follows a symlink given as --against.
 */
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { copyHostDir, makeChain } from './restore-helpers.js';

/** Objects under dir, the root included, sockets left out (backups skip them). */
function objects(dir: Buffer): number {
  const st = lstatSync(dir);
  if (st.isSocket()) return 0;
  if (!st.isDirectory()) return 1;
  let n = 1;
  for (const name of readdirSync(dir, { encoding: 'buffer' }))
    n += objects(Buffer.concat([dir, Buffer.from('/'), name]));
  return n;
}

interface Report {
  compared: number;
  differences: unknown[];
  warnings: string[];
}

test(
  'verify: warnings, objects compared, --against checks',
  { skip: missingTools('cp'), timeout: 300_000 },
  async () => {
    const tmp = tempDir('deaddrop-verify-ux-');
    const chain = await makeChain(tmp, { incrementals: 2, sinks: 1 });
    const host = copyHostDir(chain, tmp);
    // the newest incremental loses its sums file: left out, with a warning
    const sums = readdirSync(host)
      .filter((n) => /^deaddrop-inc\..*\.sha256sums$/.test(n))
      .sort();
    rmSync(join(host, sums[sums.length - 1]!));
    const live = chain.snapshots[1]!.dir;
    const verify = (against: string, json = true) =>
    runDeaddrop(['verify', '--from', host, '--host', 'testhost', '--key', chain.key.keyPath,
      '--passphrase-file', chain.key.passphraseFile, '--against', against, ...(json ? ['--json'] : [])]); // prettier-ignore

    const r = await verify(live);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.deepEqual(report.differences, []);
    assert.equal(report.warnings.length, 1, r.stdout);
    assert.match(report.warnings[0]!, /^set inc\..* is incomplete/);
    assert.equal(report.compared, objects(Buffer.from(live)));

    const text = await verify(live, false);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stderr, /^warning: set inc\..* is incomplete/m);
    assert.match(text.stdout, new RegExp(`: ${objects(Buffer.from(live))} objects, 0 difference`));

    // a symlink to the tree is followed at the root
    const link = join(tmp, 'live-link');
    symlinkSync(live, link);
    const l = await verify(link);
    assert.equal(l.code, 0, l.stdout + l.stderr);
    assert.deepEqual((JSON.parse(l.stdout) as Report).differences, []);

    // not there, or not a directory: a usage error naming it
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    for (const bad of [join(tmp, 'nonexistent'), file]) {
      const b = await verify(bad);
      assert.equal(b.code, 2, b.stdout + b.stderr);
      assert.ok(b.stderr.includes(`--against ${bad}`), b.stderr);
    }
  },
);
