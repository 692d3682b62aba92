import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { rdiffCommand } from '@deaddrop/client/rsync/command';
import { plainRdiffArgs } from '@deaddrop/client/rsync/plain-args';
import { repoRoot, runCommand, runDeaddrop, seededBytes, tempDir } from '@deaddrop/test';

// the yargs the CLI loads, set up with the CLI's global options
const yargs = createRequire(join(repoRoot, 'cli', 'package.json'))('yargs') as typeof import('yargs').default;

const fields = ['action', 'first', 'second', 'third', 'hash', 'rollsum', 'blockSize', 'sumSize', 'force'] as const;
const globals = ['json', 'verbose', 'quiet'] as const;

/** What the rdiff handler gets from yargs for `deaddrop rdiff WORDS`. */
async function viaYargs(words: string[]): Promise<Record<string, unknown>> {
  let got: Record<string, unknown> | undefined;
  await yargs(['rdiff', ...words])
    .option('json', { type: 'boolean' })
    .option('verbose', { alias: 'v', type: 'boolean' })
    .option('quiet', { alias: 'q', type: 'boolean' })
    .command({ ...rdiffCommand, handler: (argv: Record<string, unknown>) => void (got = argv) })
    .strict()
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseAsync();
  assert.ok(got, `yargs ran no handler for ${words.join(' ')}`);
  const picked: Record<string, unknown> = {};
  for (const f of [...fields, ...globals]) if (got[f] !== undefined) picked[f] = got[f];
  // yargs turns a lone "-" into ""; the command reads both as stdin/stdout
  for (const f of ['first', 'second', 'third']) if (picked[f] === '') picked[f] = '-';
  return picked;
}

test('rdiff arguments read without yargs are the ones yargs reads', async () => {
  const plain = [
    ['signature', 'basis', 'sig'],
    ['signature'],
    ['-H', 'md4', '-R', 'rollsum', '-b', '2048', '-S', '8', 'signature', 'basis', 'sig'],
    ['signature', '-b2048', 'basis', '-S8'],
    ['--hash=md4', '--rollsum', 'rabinkarp', '--block-size', '512', '--sum-size=-1', 'delta', 's', 'n', 'd'],
    ['-f', 'patch', 'basis', 'delta', 'new', '--json'],
    ['-fq', 'delta', 'sig', '-', 'delta'],
    ['-v', '--force', 'signature', '-', '-'],
    ['signature', '0', '1'],
    ['--sum-size', '0', '--block-size=0', 'signature', 'a'],
  ];
  for (const words of plain) {
    const args = plainRdiffArgs(words);
    assert.ok(args, `read without yargs: ${words.join(' ')}`);
    assert.deepEqual({ ...args }, await viaYargs(words), words.join(' '));
  }
});

test('rdiff arguments that are not plain go to yargs: help, repeats, --, odd numbers, bad choices', () => {
  const toYargs = [
    ['--help'],
    ['signature', '-h'],
    ['--version'],
    ['-S', '-1', 'signature'], // a value that looks like an option
    ['-b', '1', '-b', '2', 'signature'],
    ['signature', '--', '-name'],
    ['-b', '0x10', 'signature'],
    ['-b', '1e3', 'signature'],
    ['-b', '08', 'signature'],
    ['-H', 'sha1', 'signature'],
    ['-R', 'adler', 'signature'],
    ['checksum', 'a'],
    [],
    ['signature', 'a', 'b', 'c', 'd'],
    ['--no-force', 'signature'],
    ['--blockSize', '8', 'signature'],
    ['--force=true', 'signature'],
  ];
  for (const words of toYargs) assert.equal(plainRdiffArgs(words), undefined, words.join(' '));
});

test('deaddrop rdiff with plain arguments does not load yargs; other arguments still work through it', async () => {
  const dir = tempDir('deaddrop-rdiff-args-');
  writeFileSync(join(dir, 'basis'), seededBytes('rdiff-args', 100_000));
  const trace = { env: { ...process.env, NODE_DEBUG: 'module' } };
  const plain = await runDeaddrop(
    ['rdiff', '-H', 'md4', '-S', '8', 'signature', join(dir, 'basis'), join(dir, 'a')],
    trace,
  );
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stderr, /MODULE/, 'the module trace is on (else this test sees nothing)');
  assert.doesNotMatch(plain.stderr, /node_modules\/yargs/, 'yargs was loaded');
  // "-S -1" is not plain (parseArgs reads -1 as an option): yargs reads it, and the bytes agree
  const viaYargs = await runDeaddrop(
    ['rdiff', '-H', 'md4', '-S', '-1', 'signature', join(dir, 'basis'), join(dir, 'b')],
    trace,
  );
  assert.equal(viaYargs.code, 0, viaYargs.stderr);
  assert.match(viaYargs.stderr, /node_modules\/yargs/);
  const same = await runDeaddrop([
    'rdiff',
    '-H',
    'md4',
    '--sum-size=-1',
    'signature',
    join(dir, 'basis'),
    join(dir, 'c'),
  ]);
  assert.equal(same.code, 0, same.stderr);
  assert.deepEqual(readFileSync(join(dir, 'b')), readFileSync(join(dir, 'c')));
  assert.notDeepEqual(readFileSync(join(dir, 'a')), readFileSync(join(dir, 'b')), '-S 8 and -S -1 differ');
  const bad = await runDeaddrop(['rdiff', '-H', 'sha1', 'signature', join(dir, 'basis'), join(dir, 'd')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^deaddrop: Invalid values:[\s\S]*sha1/);
});

test('a short deaddrop rdiff run loads no node:v8, node:vm, node:worker_threads or perf_hooks', async () => {
  // each costs milliseconds of start-up, and a run below the worker and GC thresholds needs none
  const dir = tempDir('deaddrop-rdiff-builtins-');
  writeFileSync(join(dir, 'basis'), seededBytes('rdiff-builtins', 300_000));
  const preload = join(dir, 'builtins.mjs');
  writeFileSync(preload, "process.on('exit', () => process.stderr.write('BUILTINS ' + process.moduleLoadList.join() + '\\n'));\n"); // prettier-ignore
  const env = { ...process.env, NODE_OPTIONS: `--import=${preload}` };
  // the compiled CLI (a full test run builds it first): from the sources, tsx's loader thread
  // loads node:worker_threads itself
  const launcher = join(repoRoot, 'cli', 'bin', 'deaddrop.js');
  for (const args of [
    ['signature', 'basis', 'sig'],
    ['delta', 'sig', 'basis', 'delta'],
    ['patch', 'basis', 'delta', 'out'],
  ]) {
    const paths = args.map((a, i) => (i === 0 ? a : join(dir, a)));
    const r = await runCommand(process.execPath, [launcher, 'rdiff', ...paths], { env });
    assert.equal(r.code, 0, r.stderr);
    const loaded = /BUILTINS (.*)/.exec(r.stderr)?.[1]?.split(',') ?? [];
    assert.ok(loaded.includes('NativeModule fs'), `${args[0]}: the preload printed no module list`);
    for (const heavy of ['v8', 'vm', 'worker_threads', 'perf_hooks'])
      assert.ok(!loaded.includes(`NativeModule ${heavy}`), `${args[0]}: node:${heavy} was loaded`);
  }
  assert.deepEqual(readFileSync(join(dir, 'out')), readFileSync(join(dir, 'basis')));
});
