/**
 * The README's first command: `npm run demo` (scripts/demo.sh) runs the product end to end on
 * the embedded default and must succeed on a fresh machine, so CI runs it as it is written.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, repoRoot, runCommand, tempDir } from '@deaddrop/test';

test(
  'npm run demo: key, two sinks, full + incremental, check on both, restore equals the live tree',
  { skip: missingTools('bash', 'sha256sum', 'diff', 'openssl'), timeout: 180_000 },
  async () => {
    const dir = join(tempDir('deaddrop-demo-test-'), 'demo');
    const r = await runCommand('bash', [join(repoRoot, 'scripts', 'demo.sh')], {
      env: { ...process.env, DEMO_DIR: dir },
      cwd: repoRoot,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /restored tree == live tree/);
    assert.match(r.stdout, /sha256sum -c: ok on sink B/);
    // both sinks hold the same complete chain: one full and one incremental sums file each
    for (const s of ['sink-a', 'sink-b']) {
      const names = readdirSync(join(dir, s, 'demo-host'));
      assert.equal(
        names.filter((n) => /^deaddrop-full\..*\.sha256sums$/.test(n)).length,
        1,
        `${s}: ${names.join(' ')}`,
      );
      assert.equal(names.filter((n) => /^deaddrop-inc\..*\.sha256sums$/.test(n)).length, 1, `${s}: ${names.join(' ')}`);
    }
    // the client side holds no key that decrypts, and its netrc is private
    assert.ok(!existsSync(join(dir, 'client', 'recipient.key')));
    assert.equal(statSync(join(dir, 'client', 'netrc')).mode & 0o777, 0o600);
    // the sinks were stopped: their ports refuse connections
    for (const s of ['sink-a', 'sink-b']) {
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(readFileSync(join(dir, `${s}.out`), 'utf8'))![1]);
      await assert.rejects(connectOnce(port), /ECONNREFUSED/, `${s} on port ${port} still listening`);
    }
  },
);

function connectOnce(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end();
      resolve();
    });
    socket.on('error', reject);
  });
}
