import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deaddropArgv, repoRoot, runCommand, runDeaddrop, seededBytes, tempDir } from '@deaddrop/test';

test('deaddrop --help lists commands and exits 0', async () => {
  const r = await runDeaddrop(['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: deaddrop <command>/);
});

test('no command is a usage error: exit 2 with a one-line reason', async () => {
  const r = await runDeaddrop([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^deaddrop: Name a command/);
});

test('an unknown command is a usage error: exit 2', async () => {
  const r = await runDeaddrop(['no-such-command']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Unknown (argument|command)|Did you mean/);
});

test('a one-value option given twice is a usage error naming it, not a crash; repeatable ones still repeat', async () => {
  const dir = tempDir();
  for (const args of [
    ['restore', '--from', join(dir, 'a'), '--from', join(dir, 'b'), '--host', 'h', '--key', 'k', '--to', dir],
    ['restore', '--from', dir, '--host', 'h', '--time', 'now', '--time', '1d', '--key', 'k', '--to', dir],
    ['check', '--root', dir, '--now', '1', '--now', '2'],
  ]) {
    const r = await runDeaddrop(args);
    const twice = args.find((a, i) => a.startsWith('--') && args.indexOf(a) !== i)!;
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(
      r.stderr,
      `deaddrop: ${twice} given 2 times: it takes one value (${args[args.indexOf(twice) + 1]}, ${args[args.lastIndexOf(twice) + 1]})\n`,
    );
  }
  // --listen repeats by design: the error is about the address, not the repetition
  const r = await runDeaddrop(['sink', 'serve', '--root', dir, '--htpasswd', join(dir, 'h'), '--listen', '127.0.0.1:0', '--listen', 'nowhere']); // prettier-ignore
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--listen nowhere: expected ADDR:PORT/);
});

test('the command table loads each registered command by its name, and every command is in it', async () => {
  const { commandLoaders, loadAllCommands } = await import('@deaddrop/cli/registry');
  const registered = (await loadAllCommands()).map((c) => String(c.command).split(' ')[0]!);
  assert.deepEqual([...registered].sort(), Object.keys(commandLoaders).sort());
  for (const [name, load] of Object.entries(commandLoaders))
    assert.equal(String((await load()).command).split(' ')[0], name, `the loader for ${name} gives another command`);
});

test('a command loads only its own code: rdiff runs without the keys, sink, backup or restore code', async () => {
  const r = await runDeaddrop(['rdiff', '--help'], { env: { ...process.env, NODE_DEBUG: 'esm' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /signature/);
  const root = repoRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const loaded = (pkg: string) => new RegExp(`${root}/${pkg}/(src|dist)/`).test(r.stderr);
  assert.ok(loaded('client'), 'the module trace shows the client package (else this test sees nothing)');
  for (const pkg of ['keys', 'sink', 'check', 'snowflakes', 'install']) assert.ok(!loaded(pkg), `${pkg} was loaded`);
  // nor the client's other commands: backup and restore are most of its code
  for (const dir of ['client/(src|dist)/backup', 'client/(src|dist)/restore'])
    assert.ok(!new RegExp(`${root}/${dir}/`).test(r.stderr), `${dir} was loaded`);
});

test('an output that is a fifo or device is written in place, never renamed over (rdiff signature -> fifo)', async () => {
  const dir = tempDir('deaddrop-cli-fifo-');
  const basis = join(dir, 'basis');
  writeFileSync(basis, seededBytes('fifo', 300_000));
  const fifo = join(dir, 'sig.fifo');
  const script =
    'mkfifo "$FIFO"; cat "$FIFO" > "$OUT" & "$@" rdiff signature "$BASIS" "$FIFO"; rc=$?; ' +
    // a broken output (renamed over the fifo) would leave cat waiting for a writer forever
    'if [ -p "$FIFO" ]; then wait; else kill %1; fi; exit $rc';
  const r = await runCommand('bash', ['-c', script, 'sh', ...deaddropArgv()], {
    env: { ...process.env, FIFO: fifo, OUT: join(dir, 'via-fifo'), BASIS: basis },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(lstatSync(fifo).isFIFO());
  const direct = await runDeaddrop(['rdiff', 'signature', basis, join(dir, 'direct')]);
  assert.equal(direct.code, 0, direct.stderr);
  assert.deepEqual(readFileSync(join(dir, 'via-fifo')), readFileSync(join(dir, 'direct')));
});
