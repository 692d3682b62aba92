/**
 * A host directory on disk: only regular files are set files. A symlink named like one (say
 * to /etc/passwd) is not read, and is named at debug level (--verbose). --from naming the
 * host directory itself: its name, or else its sets' Hostname, must be --host.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirSource, openDirSource } from '@deaddrop/client/restore/dir-source';
import {
  makeTestRecipient,
  missingTools,
  runDeaddrop,
  seededBytes,
  tempDir,
  writeLocalClientConfig,
} from '@deaddrop/test';

test('symlinks and other non-regular names in a host directory are ignored, at debug level', async () => {
  const tmp = tempDir('deaddrop-dir-source-');
  const host = join(tmp, 'h');
  mkdirSync(host);
  const full = 'duplicity-full.20261101T031500Z.manifest';
  writeFileSync(join(host, full), 'Volume 1:\n');
  const link = 'duplicity-inc.20261101T031500Z.to.20261102T031500Z.manifest';
  symlinkSync('/etc/passwd', join(host, link));
  mkdirSync(join(host, 'duplicity-full.20261103T031500Z.manifest'));
  const debug: string[] = [];
  const source = await openDirSource(tmp, 'h', (m) => debug.push(m));
  assert.deepEqual([...(await source.list()).keys()], [full]);
  assert.equal(debug.length, 2, debug.join('\n'));
  assert.ok(
    debug.some((m) => m.includes(link) && /symlink/.test(m)),
    debug.join('\n'),
  );
});

test(
  '--from a host directory of another host than --host: refused (exit 2), unless its sets are --host',
  {
    skip: missingTools('cp'),
  },
  async () => {
    const tmp = tempDir('deaddrop-dir-source-host-');
    const src = join(tmp, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'id'), 'I am h1\n');
    const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
    const c = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath] });
    const b = await runDeaddrop(['backup', '--config', c.config]);
    assert.equal(b.code, 0, b.stderr);
    const copy = join(tmp, 'copy'); // a copy of the host directory, under another name
    assert.equal(spawnSync('cp', ['-a', c.sinkHostDir, copy]).status, 0);
    let n = 0;
    const restore = async (from: string, host: string) => {
      const out = join(tmp, `out${++n}`);
      const r = await runDeaddrop(['restore', '--from', from, '--host', host, '--key', key.plainKeyPath, '--to', out]);
      return { ...r, out };
    };

    const other = await restore(c.sinkHostDir, 'webserver.prod');
    assert.equal(other.code, 2, other.stderr);
    assert.match(
      other.stderr,
      /--from .*\/h1: a host directory named h1, of .* by its sets' manifests \(Hostname\), not of --host webserver\.prod/,
    );
    assert.ok(!existsSync(other.out), 'nothing written');
    const renamed = await restore(copy, 'h2');
    assert.equal(renamed.code, 2, renamed.stderr);

    // by the directory's name, or the sets' Hostname (the machine's name; short for a longer --host)
    const fine = [
      [c.sinkHostDir, 'h1'],
      [join(tmp, 'sink'), 'h1'],
      [copy, hostname()],
      ...(hostname().includes('.') ? [] : [[copy, `${hostname()}.lab.example`]]),
    ];
    for (const [from, host] of fine) {
      const r = await restore(from!, host!);
      assert.equal(r.code, 0, `${from} --host ${host}: ${r.stderr}`);
      assert.equal(readFileSync(join(r.out, 'id'), 'utf8'), 'I am h1\n');
    }
  },
);

test('chunks(): a file in reused buffers, each intact until the third after it is asked for', async () => {
  const tmp = tempDir('deaddrop-dir-chunks-');
  const data = seededBytes('dir-chunks', 2 * 1024 * 1024 + 12_345);
  writeFileSync(join(tmp, 'f'), data);
  const source = new DirSource(tmp);
  const fds = () => readdirSync('/proc/self/fd').length;
  const before = fds();
  const held: { chunk: Buffer; copy: Buffer }[] = [];
  for await (const chunk of await source.chunks('f')) {
    for (const h of held.slice(-2)) assert.ok(h.chunk.equals(h.copy), 'a chunk changed too soon');
    held.push({ chunk, copy: Buffer.from(chunk) });
  }
  assert.ok(Buffer.concat(held.map((h) => h.copy)).equals(data), 'bytes differ');
  assert.ok(!held[0]!.chunk.equals(held[0]!.copy), 'buffers are not reused');
  assert.equal(fds(), before, 'the file is closed at the end');
  // a reader that stops early: closed too
  for await (const chunk of await source.chunks('f')) if (chunk.length) break;
  assert.equal(fds(), before, 'the file is closed when the reader stops');
  await assert.rejects(source.chunks('missing'), /ENOENT/);
});
