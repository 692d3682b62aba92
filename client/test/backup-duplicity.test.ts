/**
 * duplicity 0.8.22 as the oracle: a full and two incrementals of the awkward tree written by
 * `deaddrop backup`, decrypted with `openssl cms`, are a complete duplicity chain; duplicity
 * verifies it with 0 differences and restores every point in time byte-exact; every sums file
 * passes `sha256sum -c` on both sinks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  makeAwkwardTree,
  makeTestRecipient,
  missingTools,
  mutateTree,
  runCommand,
  runDeaddrop,
  tempDir,
  treeListing,
} from '@deaddrop/test';

interface Result {
  result: string;
  type: 'full' | 'inc';
  set: string;
  time: string;
  volumes: number;
  files: { name: string; size: number; sha256: string }[];
  problems: { kind: string; path: string }[];
}

function lastJson(stdout: string): Result {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Result;
}

test(
  'full + 2 incrementals of the awkward tree: duplicity 0.8.22 sees a complete chain, verifies 0 differences, restores each time byte-exact',
  { skip: missingTools('duplicity', 'openssl', 'sha256sum', 'cp'), timeout: 240_000 },
  async () => {
    const tmp = tempDir('deaddrop-backup-oracle-');
    const src = join(tmp, 'src');
    mkdirSync(src);
    makeAwkwardTree(src);
    const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
    const sinks = [join(tmp, 'sinkA'), join(tmp, 'sinkB')];
    for (const s of sinks) mkdirSync(join(s, 'testhost'), { recursive: true });
    const config = join(tmp, 'client.json');
    writeFileSync(
      config,
      JSON.stringify({
        host: 'testhost',
        sources: [src],
        recipients: [key.certPath],
        sinks: sinks.map((s, i) => ({ name: `s${i}`, url: `file://${s}/testhost/` })),
        archiveDir: join(tmp, 'archive'),
        volumeSize: '512KiB',
      }),
    );

    const snapshots: { time: number; dir: string; result: Result }[] = [];
    for (let step = 0; step <= 2; step++) {
      if (step > 0) mutateTree(src, step);
      const r = await runDeaddrop(['backup', '--config', config, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const result = lastJson(r.stdout);
      assert.equal(result.result, 'ok');
      assert.equal(result.type, step === 0 ? 'full' : 'inc');
      // the only problem is the socket, skipped
      assert.deepEqual(
        result.problems.map((p) => p.kind),
        step === 0 ? ['socket'] : ['socket'],
      );
      const snap = join(tmp, `snap${step}`);
      const cp = spawnSync('cp', ['-a', src, snap]);
      assert.equal(cp.status, 0, cp.stderr.toString());
      snapshots.push({ time: Date.parse(result.time) / 1000, dir: snap, result });
    }
    assert.ok(snapshots[0]!.result.volumes >= 3, 'the tree spans several 512 KiB volumes');

    // sinks: identical, every sums file verifies with stock sha256sum
    const names = readdirSync(join(sinks[0]!, 'testhost')).sort();
    assert.deepEqual(readdirSync(join(sinks[1]!, 'testhost')).sort(), names);
    const sums = names.filter((n) => n.endsWith('.sha256sums'));
    assert.equal(sums.length, 3);
    for (const s of sinks)
      for (const f of sums) {
        const c = spawnSync('sha256sum', ['-c', '--strict', f], { cwd: join(s, 'testhost') });
        assert.equal(c.status, 0, `${s}/${f}: ${c.stdout}${c.stderr}`);
      }
    // every stored file is listed in exactly one sums file
    const listed = sums.flatMap((f) =>
      readFileSync(join(sinks[0]!, 'testhost', f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.slice(66)),
    );
    assert.deepEqual([...listed].sort(), names.filter((n) => !n.endsWith('.sha256sums')).sort());

    // decrypt with openssl, drop .p7m: a duplicity target
    const target = join(tmp, 'decrypted');
    mkdirSync(target);
    for (const n of names.filter((n) => n.endsWith('.p7m'))) {
      const d = spawnSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-inkey', key.plainKeyPath,
        '-in', join(sinks[0]!, 'testhost', n), '-out', join(target, n.slice(0, -4))]); // prettier-ignore
      assert.equal(d.status, 0, `${n}: ${d.stderr}`);
    }
    const env = { ...process.env, HOME: join(tmp, 'home') };
    const dup = (args: string[]) =>
      runCommand('duplicity', [...args.slice(0, 1), '--no-encryption', '--archive-dir', join(tmp, 'dupcache'),
        ...args.slice(1)], { env }); // prettier-ignore
    const url = `file://${target}`;

    const status = await dup(['collection-status', url]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /Found primary backup chain with matching signature chain/);
    assert.match(status.stdout, /Found 0 secondary backup chains/);
    assert.match(status.stdout, /No orphaned or incomplete backup sets found/);
    assert.equal((status.stdout.match(/^\s+Full\s/gm) ?? []).length, 1);
    assert.equal((status.stdout.match(/^\s+Incremental\s/gm) ?? []).length, 2);

    const verify = await dup(['verify', '--compare-data', url, src]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /Verify complete: \d+ files compared, 0 differences found/);

    for (const [i, snap] of snapshots.entries()) {
      const out = join(tmp, `restored${i}`);
      const r = await dup(['restore', '-t', String(snap.time), url, out]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.deepEqual(treeListing(out), treeListing(snap.dir), `restore at ${snap.result.time}`);
    }
  },
);
