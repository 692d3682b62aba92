/**
 * A sink that takes the connection and never answers a PUT (a black hole) holds back only
 * itself, in delivery too: the healthy sink gets the whole set (signatures, manifest, sums file
 * last) while the black hole's first volume is still unanswered. Once the black hole has failed
 * ahead it is done for the run: delivery does not list it or send it anything (no new
 * connection), the set stays spooled for it and it lags.
 *
 * The black hole here holds its PUT until the healthy sink has the sums file, or until the
 * test gives up waiting for that (the ordering then is wrong); then it drops every connection.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadClientConfig } from '@deaddrop/common/config/client';
import { Logger } from '@deaddrop/common/log';
import { runBackup } from '@deaddrop/client/backup/run';
import { WebDavTarget } from '@deaddrop/client/transport/webdav-target';
import { missingTools, seededBytes, startEmbeddedSink } from '@deaddrop/test';
import { creds, FAST, oneFileHost } from './fault-rig.js';

/** Only a bound on a wrong ordering (the healthy sink never completes while the PUT hangs). */
const GIVE_UP_MS = 20_000;

/**
 * A black hole that reads every request and answers none. `release()` drops every connection,
 * and later ones once their request is read; `requests` is the first line of each, in order.
 */
async function blackHole() {
  const sockets = new Set<Socket>();
  const requests: { line: string; depth?: string; afterRelease: boolean }[] = [];
  let released = false;
  let onPut: () => void = () => {};
  const firstPut = new Promise<void>((r) => (onPut = r));
  const server = createServer((s) => {
    sockets.add(s);
    let head = '';
    s.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const line = head.slice(0, head.indexOf('\r\n'));
      const depth = /\r\ndepth: *(\S+)/i.exec(head)?.[1];
      requests.push({ line, ...(depth ? { depth } : {}), afterRelease: released });
      if (line.startsWith('PUT ')) onPut();
      if (released) s.destroy();
    });
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/webdav/h1/`,
    requests,
    firstPut,
    release() {
      released = true;
      for (const s of sockets) s.destroy();
    },
    close: () => server.close(),
  };
}

async function waitFor(ok: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return ok();
}

test(
  'a black-holed sink: the healthy sink gets the whole set first; delivery never contacts the black hole again',
  { skip: missingTools('openssl'), timeout: 120_000 },
  async () => {
    // several 1 MiB volumes
    const c = await oneFileHost('deaddrop-deliver-blackhole-', 'a.bin', seededBytes('a', 2_500_000));
    const sink = await startEmbeddedSink({ hosts: { h1: creds.password } });
    const hole = await blackHole();
    const healthyDir = join(sink.root, 'h1');
    const onHealthy = () => (existsSync(healthyDir) ? readdirSync(healthyDir).sort() : []);
    try {
      const run = runBackup({
        config: loadClientConfig(c.config),
        configFile: c.config,
        mode: 'auto',
        volumeSize: 1024 * 1024,
        log: new Logger({ level: 'error' }),
        targets: [
          // the black hole's PUT waits far longer than this test: only its release ends it
          new WebDavTarget({ name: 'hole', url: hole.url, credentials: creds, retry: FAST, answerTimeoutMs: 300, idleTimeoutMs: 600_000 }), // prettier-ignore
          new WebDavTarget({ name: 'a', url: `${sink.url}h1/`, credentials: creds, retry: FAST }),
        ],
      });
      await hole.firstPut;
      const complete = await waitFor(() => onHealthy().some((n) => n.endsWith('.sha256sums')), GIVE_UP_MS);
      const whileHung = onHealthy();
      hole.release();
      const r = await run;

      assert.equal(complete, true, `the healthy sink had only ${whileHung.join(', ')} while the black hole hung`);
      const spooled = readdirSync(join(c.archiveDir, 'outgoing', r.set!)).sort();
      assert.deepEqual(whileHung, spooled, 'the healthy sink held the whole set before the black hole failed');
      assert.deepEqual(
        hole.requests.filter((q) => !q.afterRelease && q.line.startsWith('PUT ')).length,
        1,
        'one PUT, still unanswered, while the healthy sink got the whole set',
      );
      const listings = hole.requests.filter((q) => q.afterRelease && q.depth === '1');
      assert.deepEqual(listings, [], 'delivery does not list a sink that failed ahead');
      const puts = hole.requests.filter((q) => q.afterRelease && !q.line.includes('.vol1.'));
      assert.deepEqual(
        puts.filter((q) => q.line.startsWith('PUT ')),
        [],
        'nothing but the failing volume is tried on it',
      );

      assert.equal(r.result, 'degraded');
      assert.deepEqual(r.delivery!.a!.confirmed, [r.set]);
      assert.equal(r.delivery!.hole!.ok, false);
      assert.deepEqual(r.delivery!.hole!.lagging, [r.set]);
      const ledger = JSON.parse(readFileSync(join(c.archiveDir, 'ledger', 'hole.json'), 'utf8')) as {
        confirmed: unknown[];
      };
      assert.deepEqual(ledger.confirmed, [], 'the black hole has nothing confirmed');
      assert.ok(existsSync(join(c.archiveDir, 'outgoing', r.set!)), 'the set stays spooled for it');
    } finally {
      hole.close();
      await sink.stop();
    }
  },
);
