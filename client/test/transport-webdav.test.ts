/**
 * WebDavTarget against real servers on 127.0.0.1: the embedded sink (http and https with its
 * own CA), and small socket servers for answers a healthy sink does not give (503, 429, 507, none).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { blackholeSink, seededBytes, startEmbeddedSink, startSinkProxy } from '@deaddrop/test';
import type { RetryPolicy } from '../src/transport/retry.js';
import { WebDavTarget } from '../src/transport/webdav-target.js';

const FAST: RetryPolicy = { retries: 3, minTimeoutMs: 5, maxTimeoutMs: 10, factor: 1 };
const creds = { login: 'h1', password: 'pw-h1-secret' };

/** A body in 64 KiB pieces, never one buffer: the PUT must stream it. */
const chunked = (data: Buffer) => () =>
  Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536);
    })(),
  );

test('embedded sink: streaming PUT, PROPFIND listing, 409 with the same size is "exists", another size an error', async () => {
  const sink = await startEmbeddedSink({ hosts: { h1: creds.password } });
  const t = new WebDavTarget({ name: 'a', url: `${sink.url}h1/`, credentials: creds, retry: FAST });
  try {
    const data = seededBytes('vol', 3 * 1024 * 1024 + 17);
    assert.equal(await t.put('x.vol1.difftar.gz.p7m', chunked(data), data.length), 'created');
    assert.deepEqual(readFileSync(join(sink.root, 'h1', 'x.vol1.difftar.gz.p7m')), data);
    assert.equal(await t.put('x.vol1.difftar.gz.p7m', chunked(data), data.length), 'exists');
    await assert.rejects(
      t.put('x.vol1.difftar.gz.p7m', chunked(data.subarray(1)), data.length - 1),
      /already exists with 3145745 bytes \(expected 3145744\)/,
    );
    assert.equal(await t.put('empty', () => Readable.from([]), 0), 'created');
    assert.deepEqual(
      await t.list(),
      new Map([
        ['x.vol1.difftar.gz.p7m', data.length],
        ['empty', 0],
      ]),
    );
    const methods = new Set(sink.methodsLog());
    assert.deepEqual([...methods].sort(), ['PROPFIND', 'PUT']);
    const put = sink.accessLog().find((r) => r.method === 'PUT')!;
    assert.equal(put.status, 201);
  } finally {
    t.close();
    await sink.stop();
  }
});

test('a body shorter than its size is refused by the sink and nothing is published', async () => {
  const sink = await startEmbeddedSink({ hosts: { h1: creds.password } });
  const t = new WebDavTarget({ name: 'a', url: `${sink.url}h1/`, credentials: creds, retry: FAST });
  try {
    const data = seededBytes('short', 200_000);
    await assert.rejects(t.put('short.p7m', chunked(data.subarray(0, 100_000)), data.length));
    assert.deepEqual(await t.list(), new Map());
  } finally {
    t.close();
    await sink.stop();
  }
});

test('https with the sink CA file; without it the certificate is refused', async () => {
  const sink = await startEmbeddedSink({ hosts: { h1: creds.password }, tls: true });
  const good = new WebDavTarget({
    name: 'a',
    url: `${sink.url}h1/`,
    credentials: creds,
    ca: readFileSync(sink.caFile!),
    retry: FAST,
  });
  const bad = new WebDavTarget({ name: 'b', url: `${sink.url}h1/`, credentials: creds, retry: FAST });
  try {
    assert.ok(sink.url.startsWith('https://'));
    const data = seededBytes('tls', 100_000);
    assert.equal(await good.put('tls.p7m', chunked(data), data.length), 'created');
    assert.deepEqual(await good.list(), new Map([['tls.p7m', data.length]]));
    await assert.rejects(bad.list(), /certificate/i);
  } finally {
    good.close();
    bad.close();
    await sink.stop();
  }
});

/** A real HTTP server that answers PUTs from a script of statuses (after reading the body). */
async function scriptedServer(statuses: number[]) {
  const seen: { method: string; bytes: number; sha: string; auth: string }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const h = createHash('sha256');
    let bytes = 0;
    req.on('data', (d: Buffer) => {
      bytes += d.length;
      h.update(d);
    });
    req.on('end', () => {
      seen.push({ method: req.method!, bytes, sha: h.digest('hex'), auth: req.headers.authorization ?? '' });
      const status = statuses.shift() ?? 201;
      res.writeHead(status, { 'content-length': '0' });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webdav/h1/`, seen, server };
}

test('503, 429 and 408 are retried with the body opened again; 507 is not retried', async () => {
  const s = await scriptedServer([503, 429, 408, 201, 507]);
  const t = new WebDavTarget({ name: 'a', url: s.url, credentials: creds, retry: FAST });
  try {
    const data = seededBytes('retry', 300_000);
    let opened = 0;
    const body = () => {
      opened++;
      return chunked(data)();
    };
    assert.equal(await t.put('r.p7m', body, data.length), 'created');
    assert.equal(opened, 4);
    const sha = createHash('sha256').update(data).digest('hex');
    assert.deepEqual(
      s.seen.map((x) => [x.method, x.bytes, x.sha]),
      Array.from({ length: 4 }, () => ['PUT', data.length, sha]),
    );
    opened = 0;
    await assert.rejects(t.put('full.p7m', body, data.length), (err: Error) => {
      assert.match(err.message, /507/);
      assert.ok(!err.message.includes(creds.password));
      return true;
    });
    assert.equal(opened, 1, '507 is final for this sink');
    const basic = 'Basic ' + Buffer.from(`${creds.login}:${creds.password}`).toString('base64');
    assert.ok(s.seen.every((x) => x.auth === basic));
  } finally {
    t.close();
    s.server.close();
  }
});

test('a refused connection is retried, then fails with a message that carries no secret', async () => {
  const s = await scriptedServer([]);
  const url = s.url;
  await new Promise((r) => s.server.close(r));
  const t = new WebDavTarget({ name: 'a', url, credentials: creds, retry: FAST });
  let opened = 0;
  await assert.rejects(
    t.put(
      'x.p7m',
      () => {
        opened++;
        return Readable.from([Buffer.from('abc')]);
      },
      3,
    ),
    (err: Error) => /ECONNREFUSED/.test(err.message) && !err.message.includes(creds.password),
  );
  assert.equal(opened, FAST.retries + 1);
  t.close();
});

test('a sink that never answers a PROPFIND: each attempt times out, is retried, then the listing fails', async () => {
  const hole = await blackholeSink();
  const t = new WebDavTarget({ name: 'a', url: hole.url, credentials: creds, retry: FAST, answerTimeoutMs: 200 });
  try {
    const start = Date.now();
    await assert.rejects(t.list(), (err: Error) => {
      assert.match(err.message, /^a: PROPFIND: no answer to PROPFIND within 0.2 s/);
      return true;
    });
    assert.ok(Date.now() - start < 5000, `took ${Date.now() - start} ms`);
    assert.equal(hole.connections(), FAST.retries + 1, 'every attempt asked again');
    // a PUT whose answer never comes: the idle watchdog, then the PROPFIND asking whether it was published
    const put = new WebDavTarget({
      name: 'a',
      url: hole.url,
      credentials: creds,
      retry: { ...FAST, retries: 0 },
      answerTimeoutMs: 200,
      idleTimeoutMs: 200,
    });
    try {
      await assert.rejects(
        put.put('x.p7m', () => Readable.from([Buffer.from('abc')]), 3),
        /no progress for 0.2 s/,
      );
    } finally {
      put.close();
    }
  } finally {
    t.close();
    hole.close();
  }
});

test(
  'a PUT stopped while it asks the size of a name the sink already holds (409) ends then, not at the answer deadline',
  { timeout: 10_000 },
  async () => {
    const sink = await startEmbeddedSink({ hosts: { h1: creds.password } });
    let asked!: () => void;
    const propfindSeen = new Promise<void>((r) => (asked = r));
    // PROPFIND never answered: a sink that hangs
    const proxy = await startSinkProxy(sink.port, {
      intercept(req) {
        if (req.method !== 'PROPFIND') return false;
        req.resume();
        asked();
        return true;
      },
    });
    const data = seededBytes('already-there', 5000);
    try {
      const direct = new WebDavTarget({ name: 'a', url: `${sink.url}h1/`, credentials: creds, retry: FAST });
      assert.equal(await direct.put('f.vol1', chunked(data), data.length), 'created');
      const t = new WebDavTarget({
        name: 'a',
        url: `http://127.0.0.1:${proxy.port}${new URL(sink.url).pathname}h1/`,
        credentials: creds,
        retry: FAST,
        answerTimeoutMs: 20_000, // beyond the test's timeout: only the stop can end it in time
      });
      const stop = new AbortController();
      const put = t.put('f.vol1', chunked(data), data.length, stop.signal);
      await propfindSeen; // the 409 came, and the size is being asked
      stop.abort(new Error('the run ended before this upload'));
      // before: the stop did not reach the PROPFIND, which waited for its deadline (the test timed out)
      await assert.rejects(put, (err: Error) =>
        /the run ended before this upload/.test(`${err.message} ${String(err.cause)}`),
      );
    } finally {
      proxy.close();
      await sink.stop();
    }
  },
);
