/**
 * A sink that takes an upload and never answers (a hung server, storage that blocks) must hold
 * up only its own uploads: the healthy mirror gets every volume of the set while the dead
 * sink's first PUT is still waiting for an answer (its first attempt gives up only after 120 s
 * of silence, the whole retry series after some 12 minutes). The run itself is killed once
 * that is seen: waiting out the dead sink's timeouts is not what this test is about.
 *
 * The dead sink still answers PROPFIND: a sink silent to that too holds the run up before the
 * set is written (the set-time listing), which is not the early upload this test is about.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { deaddropArgv, startEmbeddedSink } from '@deaddrop/test';
import { HOST, makeHost, PASSWORD } from './mirror-helpers.js';

/** Less than the 120 s a dead sink's first attempt waits for an answer, with room for a slow machine. */
const DEADLINE_MS = 60_000;

const volumes = (names: string[]) => names.filter((n) => /\.vol\d+\.difftar/.test(n)).sort();
const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

/** A sink that lists an empty host directory, reads every PUT body and never answers a PUT. */
async function hangingSink() {
  let puts = 0;
  const server = createServer((req, res) => {
    req.resume();
    if (req.method === 'PUT') {
      puts++;
      return;
    }
    const body =
      `<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/webdav/${HOST}/</D:href>` +
      '<D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop>' +
      '<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>';
    req.on('end', () =>
      res.writeHead(207, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) }).end(body),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webdav/${HOST}/`,
    puts: () => puts,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** The volumes of the one set being written, once its manifest is there (the set is complete). */
function completeSetVolumes(outgoing: string): string[] | undefined {
  const [set] = list(outgoing);
  if (set === undefined) return undefined;
  const names = list(join(outgoing, set));
  return names.some((n) => n.includes('.manifest')) ? volumes(names) : undefined;
}

test('a sink that never answers does not hold back the healthy sink: it gets every volume meanwhile', async () => {
  const healthy = await startEmbeddedSink({ hosts: { [HOST]: PASSWORD } });
  const dead = await hangingSink();
  const host = await makeHost([
    { name: 'a', url: `${healthy.url}${HOST}/` },
    { name: 'b', url: dead.url },
  ]);
  host.change(1, 3_000_000); // with big.bin: about 6 volumes of 1 MiB
  const [cmd, ...pre] = deaddropArgv();
  const child = spawn(cmd!, [...pre, 'backup', '--config', host.config, '--json'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  let running = true;
  void exited.then(() => (running = false));
  try {
    const started = Date.now();
    const onHealthy = () => volumes(list(join(healthy.root, HOST)));
    let expected: string[] | undefined;
    while (running && Date.now() - started < DEADLINE_MS) {
      expected ??= completeSetVolumes(join(host.archive, 'outgoing'));
      if (expected && onHealthy().length >= expected.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(running, 'the run is still waiting for the dead sink');
    assert.ok(dead.puts() > 0, 'the dead sink was sent a volume');
    assert.ok(expected && expected.length >= 3, `a multi-volume set was written: ${String(expected)}`);
    assert.deepEqual(
      onHealthy(),
      expected,
      `after ${Math.round((Date.now() - started) / 1000)} s the healthy sink holds every volume, ` +
        'while the dead sink still has not answered its first PUT',
    );
  } finally {
    child.kill('SIGKILL');
    await exited;
    dead.close();
    await healthy.stop();
  }
});
