/**
 * The installed `deaddrop` (cli/bin/deaddrop.js) runs the bundle in cli/bundle (scripts/bundle.mjs),
 * which the other tests, run from the sources, never load. A worker entry missing there would not
 * fail anything: the backup would quietly run its jobs on one thread. So: every worker the
 * sources start is in the bundle, and a backup run by the launcher opens its workers and the
 * deflate addon from there, loads nothing from the packages' dist or src, and restores exactly
 * (with the digest and stage addons).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compareTrees } from '@deaddrop/test/compare-trees';
import {
  makeTestRecipient,
  missingTools,
  repoRoot,
  runCommand,
  seededText,
  tempDir,
  writeLocalClientConfig,
} from '@deaddrop/test';

const bundle = join(repoRoot, 'cli', 'bundle');
const launcher = join(repoRoot, 'cli', 'bin', 'deaddrop.js');
const addon = join(repoRoot, 'client', 'native', 'build', 'igzip.node');
const digestAddon = join(repoRoot, 'client', 'native', 'build', 'digest.node');
const stageAddon = join(repoRoot, 'client', 'native', 'build', 'stage.node');
const MiB = 1 << 20;

/** The files an strace -e open,openat log shows opened. */
const openedIn = (trace: string): string[] =>
  [...readFileSync(trace, 'utf8').matchAll(/open(?:at)?\([^"]*"([^"]+)"[^)]*\) = \d+/g)].map((m) => m[1]!);

/** The names passed to workerEntry(import.meta.url, NAME) anywhere in the sources of `dir`. */
function workerNames(dir: string): string[] {
  const names: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) names.push(...workerNames(path));
    else if (e.name.endsWith('.ts'))
      for (const m of readFileSync(path, 'utf8').matchAll(/workerEntry\(import\.meta\.url, '([\w-]+)'\)/g))
        names.push(m[1]!);
  }
  return [...new Set(names)];
}

test('the bundle holds the CLI and every worker entry the sources start', () => {
  const names = ['common', 'keys', 'client', 'sink', 'check', 'snowflakes', 'install', 'cli'].flatMap((p) =>
    existsSync(join(repoRoot, p, 'src')) ? workerNames(join(repoRoot, p, 'src')) : [],
  );
  for (const name of ['job-worker', 'range-worker', 'password-worker'])
    assert.ok(names.includes(name), `found ${names.join(', ')}`);
  for (const name of ['main', ...names])
    assert.ok(existsSync(join(bundle, `${name}.js`)), `cli/bundle/${name}.js is missing: run npm run build`);
});

test(
  'the launcher runs the bundle: a backup starts its workers and the addon from there, and restores exactly',
  { skip: missingTools('strace', 'openssl'), timeout: 120_000 },
  async () => {
    const tmp = tempDir('deaddrop-bundle-');
    const src = join(tmp, 'src');
    mkdirSync(join(src, 'etc'), { recursive: true });
    // above 1 MiB: cut into ranges for the workers, compressible: deflated (by the addon if built)
    writeFileSync(join(src, 'big.log'), seededText('log', 3 * MiB));
    for (let i = 0; i < 50; i++) writeFileSync(join(src, 'etc', `f${i}.conf`), seededText(`c${i}`, 2000));
    const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
    const { config, sinkHostDir } = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath] });
    const env = { ...process.env, DEADDROP_WORKERS: '2' };
    const trace = join(tmp, 'trace');
    const r = await runCommand(
      'strace',
      ['-f', '-qq', '-e', 'trace=open,openat', '-o', trace, process.execPath, launcher, 'backup', '--full', '--config', config], // prettier-ignore
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const opened = openedIn(trace);
    assert.ok(opened.includes(join(bundle, 'main.js')), 'the launcher opened cli/bundle/main.js');
    assert.ok(opened.includes(join(bundle, 'job-worker.js')), 'the backup started its workers from cli/bundle');
    const ours = opened.filter((p) => /\/(cli|client|common|keys|sink|check|snowflakes|install)\/(dist|src)\//.test(p));
    assert.deepEqual(ours, [], 'nothing loaded from the packages themselves');
    if (existsSync(addon) || process.env.CI === 'true')
      assert.ok(opened.includes(addon), `the deflate addon ${addon} was loaded`);

    writeFileSync(join(src, 'big.log'), Buffer.concat([readFileSync(join(src, 'big.log')), seededText('more', MiB)]));
    writeFileSync(join(src, 'etc', 'f7.conf'), 'changed\n');
    const inc = await runCommand(process.execPath, [launcher, 'backup', '--incremental', '--config', config], { env });
    assert.equal(inc.code, 0, inc.stderr);
    const out = join(tmp, 'restored');
    const restoreTrace = join(tmp, 'restore-trace');
    const restore = await runCommand('strace', ['-f', '-qq', '-e', 'trace=open,openat', '-o', restoreTrace,
      process.execPath, launcher, 'restore', '--from', sinkHostDir, '--host', 'h1',
      '--key', key.keyPath, '--passphrase-file', key.passphraseFile, '--to', out]); // prettier-ignore
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(compareTrees(src, out), []);
    for (const poolAddon of [digestAddon, stageAddon])
      if (existsSync(poolAddon) || process.env.CI === 'true')
        assert.ok(openedIn(restoreTrace).includes(poolAddon), `the restore loaded the addon ${poolAddon}`);
  },
);
