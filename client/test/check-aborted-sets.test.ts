/**
 * OPERATIONS.md's hand on the sink for `incomplete-set`: a full and an incremental whose runs
 * were killed mid-upload (volumes and signatures there, no manifest, no sums file) are warned
 * about by `check` (exit 1); removed by the name patterns the page gives, the check is clean
 * again (exit 0) and the chain restores as before.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { missingTools, repoRoot, runDeaddrop, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';
import { copyHostDir, makeChain } from './restore-helpers.js';

/** The duplicity time string of `hours` ago. */
const hoursAgo = (hours: number) =>
  new Date(Date.now() - hours * 3600_000).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
const ABORTED_FULL = hoursAgo(2);
const ABORTED_INC = `${ABORTED_FULL}.to.${hoursAgo(1)}`;

test(
  'aborted sets: warned by check, gone by the runbook patterns, the chain intact',
  { skip: missingTools('cp'), timeout: 300_000 },
  async () => {
    const tmp = tempDir('deaddrop-aborted-sets-');
    const chain = await makeChain(tmp, { incrementals: 1, sinks: 1, volumeSize: '256KiB' });
    const host = copyHostDir(chain, tmp);
    const root = dirname(host);
    // what a killed run leaves: a full's and an incremental's volumes and signatures, no manifest, no sums
    const names = readdirSync(host);
    const made: string[] = [];
    for (const f of names) {
      const aborted = /\.(vol\d+\.difftar\.gz|sigtar\.gz)\.p7m$/.test(f)
        ? f
            .replace(/^duplicity-full\.\w+\./, `duplicity-full.${ABORTED_FULL}.`)
            .replace(/^duplicity-full-signatures\.\w+\./, `duplicity-full-signatures.${ABORTED_FULL}.`)
            .replace(/^duplicity-inc\.\w+\.to\.\w+\./, `duplicity-inc.${ABORTED_INC}.`)
            .replace(/^duplicity-new-signatures\.\w+\.to\.\w+\./, `duplicity-new-signatures.${ABORTED_INC}.`)
        : f;
      if (aborted === f) continue;
      copyFileSync(join(host, f), join(host, aborted));
      const killedAt = Date.now() / 1000 - 7200; // past the check's grace
      utimesSync(join(host, aborted), killedAt, killedAt);
      made.push(aborted);
    }
    assert.ok(
      made.some((f) => f.startsWith('duplicity-full-signatures.')) && made.some((f) => f.startsWith('duplicity-inc.')),
    );
    const htpasswd = join(tmp, 'htpasswd');
    writeFileSync(htpasswd, 'testhost:$apr1$x$y\n');
    const check = () => runDeaddrop(['check', '--root', root, '--htpasswd', htpasswd, '--json']);
    const problems = (stdout: string) =>
      (JSON.parse(stdout) as { hosts: { problems: { code: string; set?: string }[] }[] }).hosts[0]!.problems;

    const before = await check();
    assert.equal(before.code, 1, before.stdout + before.stderr);
    assert.deepEqual(
      problems(before.stdout)
        .map((p) => `${p.code} ${p.set}`)
        .sort(),
      [`incomplete-set full.${ABORTED_FULL}`, `incomplete-set inc.${ABORTED_INC}`],
    );

    // the runbook: the patterns OPERATIONS.md gives, for the times the warnings name
    const runbook = readFileSync(join(repoRoot, 'docs', 'OPERATIONS.md'), 'utf8');
    const globs = [
      ['full.T', 'duplicity-full.T.*', 'duplicity-full-signatures.T.*'],
      ['inc.T0.to.T', 'duplicity-inc.T0.to.T.*', 'duplicity-new-signatures.T0.to.T.*'],
    ] as const;
    for (const [, ...ofSet] of globs) for (const g of ofSet) assert.ok(runbook.includes(`\`${g}\``), g);
    // each glob with the warned set's times in place of T (and T0): a prefix and `*`
    const prefixes = [
      ...globs[0].slice(1).map((g) => g.replace('T.*', `${ABORTED_FULL}.`)),
      ...globs[1].slice(1).map((g) => g.replace('T0.to.T.*', `${ABORTED_INC}.`)),
    ];
    for (const f of readdirSync(host)) if (prefixes.some((p) => f.startsWith(p))) rmSync(join(host, f));
    assert.deepEqual(readdirSync(host).sort(), names.sort(), 'exactly the aborted files went');

    const after = await check();
    assert.equal(after.code, 0, after.stdout + after.stderr);
    const r = await runDeaddrop(['restore', '-q', '--from', root, '--host', 'testhost', '--key', chain.key.keyPath,
      '--passphrase-file', chain.key.passphraseFile, '--to', join(tmp, 'out')]); // prettier-ignore
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(compareTrees(chain.snapshots[1]!.dir, join(tmp, 'out')), []);
  },
);
