/**
 * A command that fails still answers --json on stdout: one JSON document saying so (for
 * backup, as its last JSON line), the human message on stderr as always. And --help after an
 * unknown command is a usage error, not the top-level help.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTestRecipient, runDeaddrop, tempDir, writeLocalClientConfig } from '@deaddrop/test';

const lastLine = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;

test('--json: a configuration or usage error is a JSON document on stdout, exit 2', async () => {
  const missing = await runDeaddrop(['status', '--config', '/nonexistent/client.json', '--json']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^deaddrop: \/nonexistent\/client\.json: no such file/);
  const doc = JSON.parse(missing.stdout) as Record<string, unknown>;
  assert.deepEqual(doc, { result: 'failed', exitCode: 2, error: '/nonexistent/client.json: no such file' });

  const bogus = await runDeaddrop(['backup', '--bogus', '--json']);
  assert.equal(bogus.code, 2);
  const b = JSON.parse(bogus.stdout) as Record<string, unknown>;
  assert.equal(b.result, 'failed');
  assert.equal(b.exitCode, 2);
  assert.match(String(b.error), /Unknown argument: bogus/);

  // without --json (or with --no-json) stdout stays empty
  for (const args of [[], ['--no-json']]) {
    const plain = await runDeaddrop(['status', '--config', '/nonexistent/client.json', ...args]);
    assert.equal(plain.code, 2);
    assert.equal(plain.stdout, '', args.join(' '));
  }
});

test('--json: a locked backup ends with its result line, "locked", exit 3', async () => {
  const dir = tempDir('deaddrop-json-errors-');
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'a'), 'a\n');
  const key = await makeTestRecipient(join(dir, 'keys'), { bits: 2048 });
  const c = writeLocalClientConfig(dir, { sources: [join(dir, 'src')], recipients: [key.certPath] });
  mkdirSync(c.archiveDir, { recursive: true });
  const holder = spawn('sleep', ['60']);
  try {
    writeFileSync(join(c.archiveDir, 'lock'), `${holder.pid}\n`);
    const r = await runDeaddrop(['backup', '--config', c.config, '--json']);
    assert.equal(r.code, 3, r.stderr);
    const last = lastLine(r.stdout);
    assert.equal(last.result, 'locked');
    assert.equal(last.exitCode, 3);
    assert.match(String(last.error), new RegExp(`pid ${holder.pid}`));
  } finally {
    holder.kill();
  }
});

test('an unknown command with --help is a usage error naming it', async () => {
  const r = await runDeaddrop(['no-such-command', '--help']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no-such-command/);
  assert.doesNotMatch(r.stdout, /Usage: deaddrop/);
  const known = await runDeaddrop(['status', '--help']);
  assert.equal(known.code, 0, known.stderr);
  // an option's value before the command is no command
  const after = await runDeaddrop(['--config', '/x', 'status', '--help']);
  assert.equal(after.code, 0, after.stderr);
  assert.match(after.stdout, /deaddrop status/);
});
