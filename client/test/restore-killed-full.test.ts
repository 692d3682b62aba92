/**
 * A `backup --full` killed once some of its volumes reached the sink leaves a full set with no
 * manifest and no sums file; the next runs continue the old chain. Like duplicity, restore
 * treats that full as an orphan when the old chain goes on at or past its time: latest and
 * --time restores reach the old chain's later incrementals (the full is still named in a
 * warning and listed as an orphan). A killed full after everything else still falls back to
 * the chain before it without --time, and is refused with --time.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';
import { copyHostDir, makeChain, type Chain } from './restore-helpers.js';

let chain: Chain;
let tmp: string;
let n = 0;

/** The duplicity time string of a time (ISO or epoch seconds), as in the file names. */
const stamp = (t: string | number) =>
  new Date(typeof t === 'number' ? t * 1000 : t).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
const isoOf = (t: string) => new Date(t).toISOString().replace('.000Z', 'Z');
const epoch = (t: string) => Math.floor(new Date(t).getTime() / 1000);

/** A copy of the host directory with the first two volumes of a killed full at `time`: no manifest, no sums. */
function withKilledFull(time: string | number): string {
  const host = copyHostDir(chain, tmp);
  const full = readdirSync(host).filter((f) => /^duplicity-full\.\w+\.vol[12]\.difftar/.test(f));
  assert.equal(full.length, 2, 'the chain has two full volumes to copy');
  for (const f of full) copyFileSync(join(host, f), join(host, f.replace(/full\.\w+\./, `full.${stamp(time)}.`)));
  return host;
}

async function run(args: string[]) {
  const out = join(tmp, `out${++n}`);
  const r = await runDeaddrop([...args, '--key', chain.key.keyPath, '--passphrase-file', chain.key.passphraseFile,
    '--host', 'testhost', ...(args[0] === 'restore' ? ['--to', out] : [])]); // prettier-ignore
  return { ...r, out };
}
const restore = (host: string, extra: string[] = []) => run(['restore', '--from', host, ...extra]);

test('a killed --full run between the sets of a chain', { skip: missingTools('cp'), timeout: 300_000 }, async (t) => {
  tmp = tempDir('deaddrop-restore-killed-full-');
  chain = await makeChain(tmp, { incrementals: 2, sinks: 1, volumeSize: '256KiB' });
  const [, s1, s2] = chain.snapshots;

  for (const time of [undefined, s2!.time]) {
    await t.test(
      `killed at the time of the last incremental, --time ${time ?? '(latest)'}: the old chain`,
      async () => {
        const host = withKilledFull(s2!.time);
        const r = await restore(host, time ? ['--time', time] : []);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(compareTrees(s2!.dir, r.out), []);
        assert.match(r.stderr, new RegExp(`warning: set full\\.${stamp(s2!.time)} is incomplete`));
      },
    );
  }

  await t.test('killed at the time of a middle incremental, --time then: that state', async () => {
    const host = withKilledFull(s1!.time);
    const r = await restore(host, ['--time', s1!.time]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(compareTrees(s1!.dir, r.out), []);
  });

  await t.test('list shows the killed full as an incomplete orphan', async () => {
    const host = withKilledFull(s2!.time);
    const r = await run(['list', '--from', host, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const x = JSON.parse(r.stdout) as { chains: unknown[]; orphans: { set: string; missing: string[] }[] };
    assert.equal(x.chains.length, 1, r.stdout);
    assert.equal(x.orphans.length, 1, r.stdout);
    assert.equal(x.orphans[0]!.set, `full.${stamp(s2!.time)}`);
    assert.ok(x.orphans[0]!.missing.includes('manifest'), r.stdout);
  });

  await t.test('killed after the last set: latest is the chain before, with a warning', async () => {
    const host = withKilledFull(epoch(s2!.time) + 5);
    const r = await restore(host);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(compareTrees(s2!.dir, r.out), []);
    assert.match(r.stderr, /warning: set full\.\w+ is incomplete/);
  });

  await t.test('killed after the last set, --time after it: refused, naming the time before', async () => {
    const host = withKilledFull(epoch(s2!.time) + 5);
    const r = await restore(host, ['--time', stamp(epoch(s2!.time) + 6)]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /set full\.\w+ is incomplete/);
    assert.ok(r.stderr.includes(`--time ${isoOf(s2!.time)}`), r.stderr);
  });
});
