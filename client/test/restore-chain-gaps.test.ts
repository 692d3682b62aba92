/**
 * Which sets a restore takes when some are incomplete or missing. Without --time: the newest
 * complete state, leaving out (with a warning) incomplete sets at the end of the chain, such as
 * an upload still under way. An explicit --time that needs an incomplete set is refused, naming
 * the --time of the state before it. A missing set in the middle of a chain (its successors
 * are orphans) is refused whatever the time, instead of silently restoring an older state.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';
import { copyHostDir, makeChain, type Chain } from './restore-helpers.js';

let chain: Chain;
let tmp: string;
let n = 0;

const copyHost = () => copyHostDir(chain, tmp);

/** The duplicity time string of a backup's ISO time, as in the file names. */
const stamp = (isoTime: string) => isoTime.replace(/[-:]/g, '').replace(/\.\d+/, '');

/** Remove the files of the set that ends at `time`, or only those matching `only`. */
function removeSet(host: string, isoTime: string, only?: RegExp): string[] {
  const names = readdirSync(host).filter((f) => f.includes(`.${stamp(isoTime)}.`) && f.includes('-inc'));
  const gone = names.filter((f) => f.includes(`to.${stamp(isoTime)}.`) && (!only || only.test(f)));
  assert.ok(gone.length > 0, `no file of the set ending ${isoTime}`);
  for (const f of gone) rmSync(join(host, f));
  return gone;
}

async function restore(host: string, extra: string[] = []) {
  const out = join(tmp, `out${++n}`);
  const r = await runDeaddrop(['restore', '--from', host, '--host', 'testhost', '--key', chain.key.keyPath,
    '--passphrase-file', chain.key.passphraseFile, '--to', out, ...extra]); // prettier-ignore
  return { ...r, out };
}

const isoOf = (isoTime: string) => new Date(isoTime).toISOString().replace('.000Z', 'Z');

test('incomplete and missing sets in a chain', { skip: missingTools('cp'), timeout: 300_000 }, async (t) => {
  tmp = tempDir('deaddrop-restore-gaps-');
  chain = await makeChain(tmp, { incrementals: 3, sinks: 1 });
  const [, s1, s2, s3] = chain.snapshots;

  await t.test('newest incremental without its sums file: latest is the one before, with a warning', async () => {
    const host = copyHost();
    removeSet(host, s3!.time, /\.sha256sums$/);
    const r = await restore(host);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`warning: set inc\\.\\w+\\.to\\.${stamp(s3!.time)}.*incomplete`));
    assert.deepEqual(compareTrees(s2!.dir, r.out), []);
  });

  await t.test('an explicit --time that needs the incomplete set: refused, naming the time before', async () => {
    const host = copyHost();
    removeSet(host, s3!.time, /\.sha256sums$/);
    const r = await restore(host, ['--time', s3!.time]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /incomplete/);
    assert.ok(r.stderr.includes(`--time ${isoOf(s2!.time)}`), r.stderr);
  });

  await t.test('the newest two incrementals incomplete: both left out', async () => {
    const host = copyHost();
    removeSet(host, s3!.time, /\.sha256sums$/);
    removeSet(host, s2!.time, /\.sha256sums$/);
    const r = await restore(host);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.match(/warning: .*incomplete/g)?.length, 2, r.stderr);
    assert.deepEqual(compareTrees(s1!.dir, r.out), []);
  });

  await t.test('an incomplete incremental before a complete one: a gap, refused', async () => {
    const host = copyHost();
    removeSet(host, s2!.time, /\.sha256sums$/);
    const r = await restore(host);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /incomplete/);
    assert.ok(r.stderr.includes(`--time ${isoOf(s1!.time)}`), r.stderr);
  });

  await t.test('the only full without its sums file: refused, no complete backup before it', async () => {
    const host = copyHost();
    for (const f of readdirSync(host).filter((f) => /^deaddrop-full\..*\.sha256sums$/.test(f))) rmSync(join(host, f));
    const r = await restore(host);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /set full\.\w+ is incomplete.*no complete backup before it/);
  });

  for (const time of [undefined, s3!.time]) {
    await t.test(`a missing middle incremental, --time ${time ?? '(latest)'}: refused, naming the gap`, async () => {
      const host = copyHost();
      removeSet(host, s2!.time);
      const r = await restore(host, time ? ['--time', time] : []);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`missing.*${isoOf(s1!.time)}.*${isoOf(s2!.time)}`));
      assert.ok(r.stderr.includes(`--time ${isoOf(s1!.time)}`), r.stderr);
      assert.ok(!existsSync(r.out) || readdirSync(r.out).length === 0, 'nothing written');
    });
  }

  await t.test('a missing middle incremental, --time before the gap: restored', async () => {
    const host = copyHost();
    removeSet(host, s2!.time);
    const r = await restore(host, ['--time', s1!.time]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(compareTrees(s1!.dir, r.out), []);
  });
});
