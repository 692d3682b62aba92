import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDeaddrop } from '@deaddrop/test';

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
