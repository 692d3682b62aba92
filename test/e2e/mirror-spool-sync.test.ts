/**
 * The spool is durable before the state names a set pending: every file of the set, its
 * directory and outgoing/ are fsynced first (seen with strace). A spooled set whose files no
 * longer match its sums file (what a power loss can leave) is not delivered: it is treated as
 * lost, logged, and the chain is repaired by a full, so no sink confirms a short volume.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deaddropArgv, missingTools, runCommand } from '@deaddrop/test';
import { assertRestoresLatest, backup, hostDir, hostOnTwoSinks } from './mirror-helpers.js';

const skip = missingTools('sha256sum', 'openssl');

test(
  'every spool file and the set directory are fsynced before the state names the set',
  { skip: skip || missingTools('strace') },
  async () => {
    const { a, b, host } = await hostOnTwoSinks();
    await a.stop();
    await b.stop();
    const trace = join(host.tmp, 'strace.txt');
    const [cmd, ...pre] = deaddropArgv();
    const r = await runCommand('strace', ['-f', '-y', '-e', 'trace=fsync,fdatasync', '-o', trace, cmd!, ...pre, 'backup', '--config', host.config, '--json']); // prettier-ignore
    assert.equal(r.code, 1, r.stderr);
    const set = readdirSync(join(host.archive, 'outgoing'))[0]!;
    const synced = readFileSync(trace, 'utf8');
    const dir = join(host.archive, 'outgoing', set);
    for (const name of readdirSync(dir)) assert.ok(synced.includes(`<${join(dir, name)}>`), `${name} not fsynced`);
    assert.ok(synced.includes(`<${dir}>`), 'the set directory is fsynced');
    assert.ok(synced.includes(`<${join(host.archive, 'outgoing')}>`), 'outgoing/ is fsynced');
  },
);

test(
  'a spooled volume damaged after the state named it is not delivered; a full repairs the chain',
  { skip },
  async () => {
    const { a, b, host } = await hostOnTwoSinks();
    try {
      await a.stop();
      await b.stop();
      const first = await backup(host);
      assert.equal(first.code, 1, first.run.stderr);
      const dir = join(host.archive, 'outgoing', first.result.set);
      const vol = readdirSync(dir).find((n) => n.includes('.vol1.'))!;
      truncateSync(join(dir, vol), 0); // what a power loss can leave of an unsynced file
      await a.restart();
      await b.restart();
      host.change(1);
      const next = await backup(host);
      assert.notEqual(next.code, 0, 'the damaged set reached no sink');
      assert.ok(
        next.result.problems.some(
          (p: { kind: string; path: string }) => p.kind === 'spool-lost' && p.path === first.result.set,
        ),
        JSON.stringify(next.result.problems),
      );
      assert.match(
        next.run.stdout + next.run.stderr,
        new RegExp(`${first.result.set.replace(/\./g, '\\.')}.*does not match`),
      );
      for (const s of [a, b]) assert.ok(!readdirSync(hostDir(s)).includes(vol), 'the empty volume was not sent');
      const full = await backup(host);
      assert.equal(full.result.type, 'full', 'no sink holds the chain: a full');
      assert.equal(full.code, 0, full.run.stderr);
      await assertRestoresLatest(host, hostDir(a), join(host.tmp, 'ra'));
      await assertRestoresLatest(host, hostDir(b), join(host.tmp, 'rb'));
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);
