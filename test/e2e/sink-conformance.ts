/**
 * One conformance suite for both sinks (`deaddrop sink serve` and nginx + dav-ext with the
 * generated config): the same requests, the same rules, checked on disk.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  lstatSync,
  mkdtempSync,
  rmSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
  appendFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'webdav';
import { bcryptHash } from '@deaddrop/sink/htpasswd';
import { missingTools, runCommand, tempDir, uploadTemps, type RunningSink, type SinkOptions } from '@deaddrop/test';

type Starter = (opts: SinkOptions) => Promise<RunningSink>;

const HOSTS = { alice: 'alice-pw', bob: 'bob-pw' };
const basic = (user: string, pw: string) => 'Basic ' + Buffer.from(`${user}:${pw}`).toString('base64');
const ALICE = basic('alice', HOSTS.alice);

interface Reply {
  status: number;
  body: string;
}

/** One raw HTTP request; `path` goes on the wire exactly as given (no normalisation). */
export function request(
  sink: RunningSink,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: Buffer | string | Readable } = {},
): Promise<Reply> {
  const { port } = sink;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: opts.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body instanceof Readable) opts.body.pipe(req);
    else req.end(opts.body);
  });
}

/**
 * Write `head` on a raw socket (for requests Node's client will not send) and collect the whole
 * answer until the server closes; `reply` may send a body once it has seen the answer so far.
 */
function rawExchange(port: number, head: string, reply?: (got: string) => string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    let replied = false;
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
      const body = replied ? undefined : reply?.(got);
      if (body !== undefined) {
        replied = true;
        socket.write(body);
      }
    });
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
  });
}

/** Every entry under dir (following nothing): type, inode, size, mtime and a content digest. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      let digest = '';
      if (st.isFile()) digest = createHash('sha256').update(readFileSync(p)).digest('hex');
      // the temp directory's own mtime moves with every upload; its contents are compared
      if (name !== '.deaddrop-tmp') out.set(p, `${st.mode.toString(8)} ${st.ino} ${st.size} ${st.mtimeMs} ${digest}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** A deterministic byte stream of `size` bytes, generated on the fly, hashed as it goes. */
function generated(size: number, hash: { value?: string }): Readable {
  const block = randomBytes(1 << 20);
  const h = createHash('sha256');
  let sent = 0;
  return Readable.from(
    (async function* () {
      while (sent < size) {
        const n = Math.min(block.length, size - sent);
        block.writeUInt32LE(sent / block.length, 0); // every MiB differs
        const chunk = Buffer.from(block.subarray(0, n));
        h.update(chunk);
        sent += n;
        yield chunk;
      }
      hash.value = h.digest('hex');
    })(),
    { objectMode: false },
  );
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

interface Probe {
  name: string;
  method: string;
  path: string;
  auth?: string | null;
  headers?: Record<string, string>;
  body?: string;
  /**
   * Embedded sink only: nginx's dav PUT renames into a path with a symlink in it even with
   * disable_symlinks on (the check covers opens, not dav's final rename), see docs/FORMAT.md.
   */
  embeddedOnly?: boolean;
  /** Accepted statuses (both servers refuse; where they differ in how, both codes are listed). */
  expect: number[];
}

export function conformanceSuite(kind: 'embedded' | 'nginx', start: Starter): void {
  const skip = kind === 'nginx' ? missingTools('nginx', 'curl') : missingTools('curl');
  describe(`sink conformance: ${kind}`, { skip }, () => {
    let sink: RunningSink;
    let outside: string;
    before(async () => {
      sink = await start({ hosts: HOSTS, maxBody: '2GB' });
      // a user named like the temp directory, added behind the sink's back
      appendFileSync(sink.htpasswd, `.deaddrop-tmp:${bcryptHash('tmp-pw', 4)}\n`);
      outside = mkdtempSync(join(tmpdir(), 'deaddrop-outside-'));
      writeFileSync(join(sink.root, 'alice', 'exists.p7m'), 'original bytes');
      mkdirSync(join(sink.root, 'alice', 'sub'));
      mkdirSync(join(sink.root, 'bob', 'keep'), { recursive: true });
      writeFileSync(join(sink.root, 'bob', 'keep', 'b.p7m'), 'bob data');
      // symlinks an admin (or an attacker with shell access) left in a host directory
      symlinkSync(outside, join(sink.root, 'alice', 'link'));
      symlinkSync(join(sink.root, 'bob', 'keep', 'b.p7m'), join(sink.root, 'alice', 'lnk.p7m'));
    });
    after(async () => {
      await sink?.stop();
      rmSync(outside, { recursive: true, force: true });
    });

    test('own directory: new, nested, chunked, empty PUT -> 201 and byte-exact on disk', async () => {
      const body = randomBytes(100_000);
      let r = await request(sink, 'PUT', '/webdav/alice/new.p7m', { headers: { authorization: ALICE }, body });
      assert.equal(r.status, 201);
      assert.deepEqual(readFileSync(join(sink.root, 'alice', 'new.p7m')), body);
      r = await request(sink, 'PUT', '/webdav/alice/n1/n2/nested.p7m', { headers: { authorization: ALICE }, body });
      assert.equal(r.status, 201);
      assert.deepEqual(readFileSync(join(sink.root, 'alice', 'n1', 'n2', 'nested.p7m')), body);
      r = await request(sink, 'PUT', '/webdav/alice/chunked.p7m', {
        headers: { authorization: ALICE, 'transfer-encoding': 'chunked' },
        body: Readable.from([body.subarray(0, 5000), body.subarray(5000)]),
      });
      assert.equal(r.status, 201);
      assert.deepEqual(readFileSync(join(sink.root, 'alice', 'chunked.p7m')), body);
      r = await request(sink, 'PUT', '/webdav/alice/empty.p7m', { headers: { authorization: ALICE }, body: '' });
      assert.equal(r.status, 201);
      assert.equal(lstatSync(join(sink.root, 'alice', 'empty.p7m')).size, 0);
    });

    test('1 GB streamed PUT -> 201, sha256 identical on disk, nothing left in temp', async () => {
      const size = 1 << 30;
      const hash: { value?: string } = {};
      const r = await request(sink, 'PUT', '/webdav/alice/big.p7m', {
        headers: { authorization: ALICE, 'content-length': String(size) },
        body: generated(size, hash),
      });
      assert.equal(r.status, 201);
      assert.equal(lstatSync(join(sink.root, 'alice', 'big.p7m')).size, size);
      assert.equal(await sha256File(join(sink.root, 'alice', 'big.p7m')), hash.value);
      assert.deepEqual(uploadTemps(sink), []);
    });

    test('PROPFIND depth 0/1: multistatus with sizes, dates, collections, correct hrefs', async () => {
      const r = await request(sink, 'PROPFIND', '/webdav/alice/', { headers: { authorization: ALICE, depth: '1' } });
      assert.equal(r.status, 207);
      assert.match(r.body, /<D:href>\/webdav\/alice\/<\/D:href>/);
      assert.match(r.body, /<D:href>\/webdav\/alice\/exists\.p7m<\/D:href>[\s\S]*?<D:getcontentlength>14</);
      assert.match(r.body, /<D:href>\/webdav\/alice\/sub\/<\/D:href>[\s\S]*?<D:collection\/>/);
      assert.match(r.body, /<D:getlastmodified>\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT</);
      assert.doesNotMatch(r.body, /deaddrop-tmp/);
      // symlinks are not listed by ours (nginx lists what it finds)
      if (kind === 'embedded') assert.doesNotMatch(r.body, /link|lnk\.p7m/);
      const r0 = await request(sink, 'PROPFIND', '/webdav/alice/exists.p7m', {
        headers: { authorization: ALICE, depth: '0' },
      });
      assert.equal(r0.status, 207);
      assert.equal((r0.body.match(/<D:response>/g) ?? []).length, 1);
      const missing = await request(sink, 'PROPFIND', '/webdav/alice/nope.p7m', {
        headers: { authorization: ALICE, depth: '0' },
      });
      assert.equal(missing.status, 404);
    });

    test('>= 40 hostile requests are refused and nothing changes on disk', async () => {
      const long = 'x'.repeat(300);
      const probes: Probe[] = [
        { name: 'overwrite', method: 'PUT', path: '/webdav/alice/exists.p7m', body: 'EVIL', expect: [409] },
        {
          name: 'overwrite, encoded name',
          method: 'PUT',
          path: '/webdav/alice/%65xists.p7m',
          body: 'EVIL',
          expect: [409],
        },
        {
          name: 'overwrite via ./',
          method: 'PUT',
          path: '/webdav/alice/./exists.p7m',
          body: 'EVIL',
          expect: [400, 409],
        },
        {
          name: 'overwrite via //',
          method: 'PUT',
          path: '/webdav/alice//exists.p7m',
          body: 'EVIL',
          expect: [400, 409],
        },
        // PCRE's `$` also matches before a final newline: nginx would store NAME%0a as NAME
        ...['%0a', '%0d', '%0d%0a'].map((tail): Probe => ({
          name: `overwrite via NAME${tail}`,
          method: 'PUT',
          path: `/webdav/alice/exists.p7m${tail}`,
          body: 'EVIL',
          expect: [400, 403],
        })),
        {
          name: 'new dir via NAME%0a/',
          method: 'PUT',
          path: '/webdav/alice/sub%0a/x.p7m',
          body: 'EVIL',
          expect: [400, 403],
        },
        { name: 'PUT over a directory', method: 'PUT', path: '/webdav/alice/sub', body: 'EVIL', expect: [409] },
        { name: 'PUT to the collection', method: 'PUT', path: '/webdav/alice/', body: 'EVIL', expect: [409] },
        {
          name: 'PUT below a file',
          method: 'PUT',
          path: '/webdav/alice/exists.p7m/x',
          body: 'EVIL',
          expect: kind === 'nginx' ? [500] : [403, 409],
        },
        {
          name: 'PUT through a symlinked dir',
          method: 'PUT',
          path: '/webdav/alice/link/x.p7m',
          body: 'EVIL',
          embeddedOnly: true,
          expect: [403, 409],
        },
        {
          name: 'PUT onto a symlink',
          method: 'PUT',
          path: '/webdav/alice/lnk.p7m',
          body: 'EVIL',
          embeddedOnly: true,
          expect: [403, 409],
        },
        {
          name: 'PROPFIND through a symlink',
          method: 'PROPFIND',
          path: '/webdav/alice/link/',
          embeddedOnly: true,
          expect: [403, 404],
        },
        { name: "other host's dir", method: 'PUT', path: '/webdav/bob/evil.p7m', body: 'EVIL', expect: [403] },
        { name: "other host's file", method: 'PUT', path: '/webdav/bob/keep/b.p7m', body: 'EVIL', expect: [403] },
        { name: 'unknown top dir', method: 'PUT', path: '/webdav/carol/x', body: 'EVIL', expect: [403] },
        { name: 'root level', method: 'PUT', path: '/webdav/x', body: 'EVIL', expect: [403] },
        { name: 'own dir without slash', method: 'PUT', path: '/webdav/alice', body: 'EVIL', expect: [403] },
        ...[
          'GET',
          'HEAD',
          'DELETE',
          'MKCOL',
          'MOVE',
          'COPY',
          'OPTIONS',
          'PROPPATCH',
          'LOCK',
          'UNLOCK',
          'POST',
          'PATCH',
        ].map((method): Probe => ({
          name: method,
          method,
          path: '/webdav/alice/exists.p7m',
          headers: method === 'MOVE' || method === 'COPY' ? { destination: '/webdav/alice/moved.p7m' } : {},
          expect: [405],
        })),
        { name: 'MKCOL new', method: 'MKCOL', path: '/webdav/alice/newdir/', expect: [405] },
        { name: 'DELETE other', method: 'DELETE', path: '/webdav/bob/keep/b.p7m', expect: [405] },
        { name: 'PROPFIND other host', method: 'PROPFIND', path: '/webdav/bob/', expect: [403] },
        { name: 'PROPFIND root', method: 'PROPFIND', path: '/webdav/', expect: [403] },
        {
          name: 'PROPFIND infinity',
          method: 'PROPFIND',
          path: '/webdav/alice/',
          headers: { depth: 'infinity' },
          expect: [403],
        },
        { name: '../', method: 'PUT', path: '/webdav/alice/../bob/t1', body: 'EVIL', expect: [400, 403] },
        { name: '%2e%2e', method: 'PUT', path: '/webdav/alice/%2e%2e/bob/t2', body: 'EVIL', expect: [400, 403] },
        { name: '..%2f', method: 'PUT', path: '/webdav/alice/..%2fbob/t3', body: 'EVIL', expect: [400, 403] },
        {
          name: 'encoded slashes',
          method: 'PUT',
          path: '/webdav/alice%2f..%2fbob/t4',
          body: 'EVIL',
          expect: [400, 403],
        },
        {
          name: 'leave the prefix',
          method: 'PUT',
          path: '/webdav/alice/%2e%2e%2f%2e%2e%2ft5',
          body: 'EVIL',
          expect: [400, 403, 404],
        },
        { name: 'above root', method: 'PUT', path: '/webdav/alice/../../../t6', body: 'EVIL', expect: [400] },
        { name: '//webdav//bob/', method: 'PUT', path: '//webdav//bob/t7', body: 'EVIL', expect: [400, 403, 404] },
        { name: 'bob%2f', method: 'PUT', path: '/webdav/bob%2ft9', body: 'EVIL', expect: [400, 403] },
        { name: './bob', method: 'PUT', path: '/webdav/./bob/t11', body: 'EVIL', expect: [400, 403] },
        { name: 'backslashes', method: 'PUT', path: '/webdav/alice/..\\bob\\t12', body: 'EVIL', expect: [400, 403] },
        { name: '%5c', method: 'PUT', path: '/webdav/alice/..%5cbob', body: 'EVIL', expect: [400, 403] },
        // inside the own directory, but not a name either sink stores: no normalising
        { name: 'own %2f', method: 'PUT', path: '/webdav/alice%2fenc', body: 'EVIL', expect: [400] },
        { name: 'own %2F deeper', method: 'PUT', path: '/webdav/alice/keep%2Fx', body: 'EVIL', expect: [400] },
        { name: 'own ./', method: 'PUT', path: '/webdav/alice/./dot', body: 'EVIL', expect: [400] },
        { name: 'own %2e/', method: 'PUT', path: '/webdav/alice/%2E/dot2', body: 'EVIL', expect: [400] },
        { name: 'own //', method: 'PUT', path: '/webdav/alice//dbl', body: 'EVIL', expect: [400] },
        { name: 'own /.', method: 'PROPFIND', path: '/webdav/alice/.', headers: { depth: '0' }, expect: [400] },
        { name: 'NUL', method: 'PUT', path: '/webdav/alice/t%00x', body: 'EVIL', expect: [400] },
        { name: 'dot file', method: 'PUT', path: '/webdav/alice/.hidden', body: 'EVIL', expect: [400, 403] },
        { name: 'name too long', method: 'PUT', path: `/webdav/alice/${long}`, body: 'EVIL', expect: [400, 403] },
        { name: 'case', method: 'PUT', path: '/WEBDAV/alice/x', body: 'EVIL', expect: [404] },
        { name: 'no auth PUT', method: 'PUT', path: '/webdav/alice/na.p7m', auth: null, body: 'EVIL', expect: [401] },
        { name: 'no auth PROPFIND', method: 'PROPFIND', path: '/webdav/alice/', auth: null, expect: [401] },
        {
          name: 'wrong password',
          method: 'PUT',
          path: '/webdav/alice/wp.p7m',
          auth: basic('alice', 'nope'),
          body: 'EVIL',
          expect: [401],
        },
        {
          name: 'wrong password, existing name (no oracle)',
          method: 'PUT',
          path: '/webdav/alice/exists.p7m',
          auth: basic('alice', 'nope'),
          body: 'EVIL',
          expect: [401],
        },
        {
          name: 'empty user',
          method: 'PUT',
          path: '/webdav/alice/eu.p7m',
          auth: basic('', 'x'),
          body: 'EVIL',
          expect: [401],
        },
        { name: 'Bearer', method: 'PUT', path: '/webdav/alice/b.p7m', auth: 'Bearer abc', body: 'EVIL', expect: [401] },
        {
          name: 'temp-dir user lists temp',
          method: 'PROPFIND',
          path: '/webdav/.deaddrop-tmp/',
          auth: basic('.deaddrop-tmp', 'tmp-pw'),
          headers: { depth: '1' },
          expect: [400, 403],
        },
        {
          name: 'temp-dir user writes temp',
          method: 'PUT',
          path: '/webdav/.deaddrop-tmp/x',
          auth: basic('.deaddrop-tmp', 'tmp-pw'),
          body: 'EVIL',
          expect: [400, 403],
        },
        {
          name: 'oversize body',
          method: 'PUT',
          path: '/webdav/alice/huge.p7m',
          headers: { 'content-length': String(3e9) },
          expect: [413],
        },
        { name: 'outside the prefix', method: 'GET', path: '/', expect: [404] },
        {
          name: 'fragment (Content-Range)',
          method: 'PUT',
          path: '/webdav/alice/fragment.p7m',
          headers: { 'content-range': 'bytes 0-3/10' },
          body: 'EVIL',
          expect: [400, 501],
        },
      ];
      const before = snapshot(sink.root);
      const failures: string[] = [];
      let sent = 0;
      for (const p of probes) {
        if (p.embeddedOnly && kind !== 'embedded') continue;
        sent++;
        const auth = p.auth === undefined ? ALICE : p.auth;
        const headers: Record<string, string> = { ...(p.headers ?? {}) };
        if (auth) headers.authorization = auth;
        let status: number;
        if (p.name === 'oversize body') {
          // announce 3 GB, send a little: the refusal must come without the body
          status = await new Promise<number>((resolve, reject) => {
            const req = http.request(
              { host: '127.0.0.1', port: sink.port, method: 'PUT', path: p.path, headers, agent: false },
              (res) => {
                resolve(res.statusCode!);
                res.resume();
                req.destroy();
              },
            );
            req.on('error', reject);
            req.write(Buffer.alloc(65536));
          });
        } else {
          status = (await request(sink, p.method, p.path, { headers, body: p.body })).status;
        }
        if (!p.expect.includes(status))
          failures.push(`${p.name}: ${p.method} ${p.path} -> ${status}, expected ${p.expect.join('/')}`);
      }
      assert.ok(sent >= 40, `${sent} probes`);
      assert.deepEqual(failures, []);
      assert.deepEqual(snapshot(sink.root), before);
      assert.deepEqual(readdirSync(outside), []);
    });

    test('PUT with neither Content-Length nor chunked -> 411 (nginx 500), nothing stored', async () => {
      const head =
        `PUT /webdav/alice/nolength.p7m HTTP/1.1\r\nHost: x\r\nAuthorization: ${ALICE}\r\n` +
        'Connection: close\r\n\r\n';
      const answer = await rawExchange(sink.port, head);
      // nginx's dav module answers 500 here (docs/FORMAT.md); an error either way
      assert.match(answer, kind === 'embedded' ? /^HTTP\/1\.1 411 / : /^HTTP\/1\.1 500 /);
      assert.deepEqual(readdirSync(join(sink.root, 'alice')).includes('nolength.p7m'), false);
    });

    test('PUT with a transfer-coding other than plain chunked (gzip, chunked) -> 501, nothing stored', async () => {
      const head =
        `PUT /webdav/alice/gzipped.p7m HTTP/1.1\r\nHost: x\r\nAuthorization: ${ALICE}\r\n` +
        'Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n';
      const answer = await rawExchange(sink.port, head);
      assert.match(answer, /^HTTP\/1\.1 501 /);
      assert.deepEqual(readdirSync(join(sink.root, 'alice')).includes('gzipped.p7m'), false);
    });

    test('PROPFIND with Expect: 100-continue gets 100 Continue, then 207', { timeout: 30_000 }, async () => {
      const xml = '<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>';
      const head =
        `PROPFIND /webdav/alice/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${ALICE}\r\nDepth: 1\r\n` +
        `Content-Length: ${xml.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
      // the body goes only after the interim answer, as curl and Node send it
      const answer = await rawExchange(sink.port, head, (got) => (/^HTTP\/1\.1 100 /.test(got) ? xml : undefined));
      assert.match(answer, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 207 /);
    });

    test('aborted PUT leaves no partial file anywhere and no temp file', async () => {
      const before = snapshot(sink.root);
      await new Promise<void>((resolve) => {
        const req = http.request({
          host: '127.0.0.1',
          port: sink.port,
          method: 'PUT',
          path: '/webdav/alice/aborted.p7m',
          headers: { authorization: ALICE, 'content-length': String(10 << 20) },
          agent: false,
        });
        req.on('error', () => resolve());
        req.write(randomBytes(1 << 20), () => setTimeout(() => req.destroy(), 300));
      });
      assert.ok(await waitFor(() => uploadTemps(sink).length === 0), 'temp file removed');
      assert.deepEqual(snapshot(sink.root), before);
    });

    test('curl -T (file and chunked stdin) stores byte-exact', { skip: missingTools('curl') }, async () => {
      const dir = tempDir();
      const file = join(dir, 'f.bin');
      const data = randomBytes(300_000);
      writeFileSync(file, data);
      const base = ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-u', `alice:${HOSTS.alice}`];
      let r = await runCommand('curl', [...base, '-T', file, `${sink.url}alice/curl.p7m`]);
      assert.equal(r.stdout, '201');
      r = await runCommand('curl', [...base, '-T', '-', `${sink.url}alice/curl-stdin.p7m`], { input: data });
      assert.equal(r.stdout, '201');
      r = await runCommand('curl', [...base, '-T', file, `${sink.url}alice/curl.p7m`]);
      assert.equal(r.stdout, '409');
      assert.deepEqual(readFileSync(join(sink.root, 'alice', 'curl.p7m')), data);
      assert.deepEqual(readFileSync(join(sink.root, 'alice', 'curl-stdin.p7m')), data);
    });

    test('webdav npm client: putFileContents with a stream, getDirectoryContents', async () => {
      const client = createClient(`${sink.url}alice/`, { username: 'alice', password: HOSTS.alice });
      const data = randomBytes(2_000_000);
      const ok = await client.putFileContents(
        '/wd/stream.p7m',
        Readable.from([data.subarray(0, 1e6), data.subarray(1e6)]),
        {
          overwrite: false,
          contentLength: data.length,
        },
      );
      assert.equal(ok, true);
      assert.deepEqual(readFileSync(join(sink.root, 'alice', 'wd', 'stream.p7m')), data);
      const list = (await client.getDirectoryContents('/wd/')) as { basename: string; size: number; type: string }[];
      assert.deepEqual(
        list.map((e) => [e.basename, e.size, e.type]),
        [['stream.p7m', data.length, 'file']],
      );
      const top = (await client.getDirectoryContents('/')) as { basename: string; type: string }[];
      assert.ok(top.some((e) => e.basename === 'wd' && e.type === 'directory'));
      await assert.rejects(client.getFileContents('/wd/stream.p7m'), /405/);
    });

    test('two concurrent PUTs of one new name: one winner, intact', async (t) => {
      const a = randomBytes(3 << 20);
      const b = randomBytes(3 << 20);
      // both requests pass the existence check, then finish together
      const slow = (data: Buffer) =>
        Readable.from(
          (async function* () {
            yield data.subarray(0, 1 << 20);
            await new Promise((r) => setTimeout(r, 500));
            yield data.subarray(1 << 20);
          })(),
        );
      const headers = { authorization: ALICE, 'content-length': String(a.length) };
      const [ra, rb] = await Promise.all([
        request(sink, 'PUT', '/webdav/alice/race.p7m', { headers, body: slow(a) }),
        request(sink, 'PUT', '/webdav/alice/race.p7m', { headers, body: slow(b) }),
      ]);
      t.diagnostic(`race statuses: ${ra.status}, ${rb.status}`);
      const stored = readFileSync(join(sink.root, 'alice', 'race.p7m'));
      if (kind === 'embedded') {
        assert.deepEqual([ra.status, rb.status].sort(), [201, 409]);
        assert.deepEqual(stored, ra.status === 201 ? a : b);
      } else {
        // nginx checks existence before the body and rename()s after it: without chattr +a on the
        // host directory both may succeed (201/204); what it does guarantee is a whole body.
        assert.ok([ra.status, rb.status].includes(201));
        assert.ok(stored.equals(a) || stored.equals(b));
      }
      assert.ok(await waitFor(() => uploadTemps(sink).length === 0));
    });

    test(
      'duplicity 0.8.22 webdav: full + incremental encrypted to a gpg key; --no-encryption incremental GETs and is refused',
      { skip: missingTools('duplicity', 'gpg') },
      async () => {
        const dir = tempDir();
        const gnupg = join(dir, 'gnupg');
        mkdirSync(gnupg, { mode: 0o700 });
        const env = { ...process.env, GNUPGHOME: gnupg, FTP_PASSWORD: HOSTS.alice, LANG: 'C.UTF-8' };
        let r = await runCommand(
          'gpg',
          [
            '--batch',
            '--quick-gen-key',
            '--passphrase',
            '',
            'deaddrop test <t@example.org>',
            'rsa2048',
            'encr',
            'never',
          ],
          { env },
        );
        assert.equal(r.code, 0, r.stderr);
        r = await runCommand('gpg', ['--batch', '--with-colons', '--list-keys'], { env });
        const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(r.stdout)![1]!;
        const src = join(dir, 'src');
        mkdirSync(src);
        writeFileSync(join(src, 'a.txt'), randomBytes(200_000));
        const target = `webdav://alice@127.0.0.1:${sink.port}/webdav/alice/dup/`;
        mkdirSync(join(sink.root, 'alice', 'dup'));
        const dup = (mode: string, archive: string, extra: string[], url = target) =>
          runCommand(
            'duplicity',
            [mode, '--archive-dir', join(dir, archive), '--name', 'n', '--no-print-statistics', ...extra, src, url],
            { env },
          );
        const logBefore = sink.accessLog().length; // full and incremental: only PROPFIND and PUT
        r = await dup('full', 'arch', ['--encrypt-key', fpr]);
        assert.equal(r.code, 0, r.stderr);
        writeFileSync(join(src, 'b.txt'), 'more');
        r = await dup('incremental', 'arch', ['--encrypt-key', fpr]);
        assert.equal(r.code, 0, r.stderr);
        const names = readdirSync(join(sink.root, 'alice', 'dup'));
        assert.ok(
          names.some((n) => /^duplicity-full\..*\.vol1\.difftar\.gpg$/.test(n)),
          names.join(' '),
        );
        assert.ok(
          names.some((n) => /^duplicity-inc\..*\.manifest\.gpg$/.test(n)),
          names.join(' '),
        );
        const methods = new Set(
          sink
            .accessLog()
            .slice(logBefore)
            .map((e) => e.method),
        );
        assert.deepEqual(
          [...methods].filter((m) => m !== 'PUT' && m !== 'PROPFIND'),
          [],
        );
        assert.ok(methods.has('PUT'));

        // unencrypted: the incremental wants the remote manifest back (GET) and must fail
        mkdirSync(join(sink.root, 'alice', 'plain'));
        const plain = `webdav://alice@127.0.0.1:${sink.port}/webdav/alice/plain/`;
        r = await dup('full', 'arch2', ['--no-encryption'], plain);
        assert.equal(r.code, 0, r.stderr);
        const n = sink.accessLog().length;
        r = await dup('incremental', 'arch2', ['--no-encryption', '--num-retries', '1'], plain);
        assert.notEqual(r.code, 0);
        assert.ok(
          sink
            .accessLog()
            .slice(n)
            .some((e) => e.method === 'GET' && e.status === 405),
        );
      },
    );
  });
}

/**
 * A reader account (`sink serve --reader`): GET and PROPFIND (depth 0/1) anywhere under the
 * prefix, PUT 403, every other method 405; host accounts still may not GET; symlinks are not
 * followed; without --reader a GET is 405 for everyone, whatever the credentials.
 */
export function readerSuite(kind: 'embedded' | 'nginx', start: Starter): void {
  const skip = kind === 'nginx' ? missingTools('nginx') : false;
  const nginx = kind === 'nginx';
  describe(`sink conformance: reader account (${kind})`, { skip }, () => {
    const READER = basic('admin', 'admin-pw');
    let sink: RunningSink;
    let outside: string;
    const big = randomBytes(3_000_000);
    before(async () => {
      sink = await start({ hosts: HOSTS, readers: ['admin'] });
      // added behind the sink's back: a reader has no host directory
      appendFileSync(sink.htpasswd, `admin:${bcryptHash('admin-pw', 4)}\n`);
      outside = mkdtempSync(join(tmpdir(), 'deaddrop-outside-'));
      writeFileSync(join(outside, 'secret'), 'outside the tree');
      writeFileSync(join(sink.root, 'alice', 'a.p7m'), 'alice data');
      writeFileSync(join(sink.root, 'alice', 'big.p7m'), big);
      writeFileSync(join(sink.root, 'alice', 'empty.p7m'), '');
      mkdirSync(join(sink.root, 'bob', 'keep'), { recursive: true });
      writeFileSync(join(sink.root, 'bob', 'keep', 'b.p7m'), 'bob data');
      symlinkSync(outside, join(sink.root, 'alice', 'link'));
      symlinkSync(join(outside, 'secret'), join(sink.root, 'alice', 'lnk.p7m'));
    });
    after(async () => {
      await sink?.stop();
      rmSync(outside, { recursive: true, force: true });
    });

    test('GET any host file: 200, Content-Length, byte-exact (3 MB streamed, empty file)', async () => {
      const r = await fetch(`${sink.url}alice/big.p7m`, { headers: { authorization: READER } });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-length'), String(big.length));
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), big);
      const b = await request(sink, 'GET', '/webdav/bob/keep/b.p7m', { headers: { authorization: READER } });
      assert.deepEqual([b.status, b.body], [200, 'bob data']);
      const e = await fetch(`${sink.url}alice/empty.p7m`, { headers: { authorization: READER } });
      assert.deepEqual([e.status, e.headers.get('content-length'), (await e.arrayBuffer()).byteLength], [200, '0', 0]);
    });

    test('GET with one Range: 206 and those bytes (a restore takes a cut volume up again); past the end 416', async () => {
      const get = (range: string) =>
        fetch(`${sink.url}alice/big.p7m`, { headers: { authorization: READER, range } }).then(async (r) => ({
          status: r.status,
          contentRange: r.headers.get('content-range'),
          length: r.headers.get('content-length'),
          body: Buffer.from(await r.arrayBuffer()),
        }));
      const size = big.length;
      for (const [range, first, last] of [
        ['bytes=1000000-', 1_000_000, size - 1],
        ['bytes=0-9', 0, 9],
        ['bytes=-5', size - 5, size - 1],
        [`bytes=${size - 1}-${size + 100}`, size - 1, size - 1],
      ] as const) {
        const r = await get(range);
        assert.deepEqual(
          [r.status, r.contentRange, r.length],
          [206, `bytes ${first}-${last}/${size}`, String(last - first + 1)],
          range,
        );
        assert.ok(r.body.equals(big.subarray(first, last + 1)), range);
      }
      const past = await get(`bytes=${size}-`);
      assert.deepEqual([past.status, past.contentRange], [416, `bytes */${size}`]);
    });

    test('PROPFIND the root lists the host directories; a host directory its files', async () => {
      const root = await request(sink, 'PROPFIND', '/webdav/', { headers: { authorization: READER, depth: '1' } });
      assert.equal(root.status, 207);
      assert.match(root.body, /<D:href>\/webdav\/<\/D:href>/);
      assert.match(root.body, /<D:href>\/webdav\/alice\/<\/D:href>/);
      assert.match(root.body, /<D:href>\/webdav\/bob\/<\/D:href>/);
      // dav-ext lists every name it finds (the temp directory's name, not its content)
      if (!nginx) assert.doesNotMatch(root.body, /deaddrop-tmp/);
      const bob = await request(sink, 'PROPFIND', '/webdav/bob/keep/', {
        headers: { authorization: READER, depth: '1' },
      });
      assert.equal(bob.status, 207);
      assert.match(bob.body, /<D:href>\/webdav\/bob\/keep\/b\.p7m<\/D:href>[\s\S]*?<D:getcontentlength>8</);
      const client = createClient(`${sink.url}alice/`, { username: 'admin', password: 'admin-pw' });
      const list = (await client.getDirectoryContents('/')) as { basename: string; size: number; type: string }[];
      const files = list
        .filter((f) => f.type === 'file' && (!nginx || !f.basename.startsWith('l'))) // nginx lists symlinks
        .map((f) => [f.basename, f.size])
        .sort();
      assert.deepEqual(files, [
        ['a.p7m', 10],
        ['big.p7m', big.length],
        ['empty.p7m', 0],
      ]);
      assert.deepEqual(Buffer.from((await client.getFileContents('/a.p7m')) as ArrayBuffer).toString(), 'alice data');
    });

    test('the reader writes nothing, the hosts read nothing, symlinks are not followed', async () => {
      const probes: { name: string; method: string; path: string; auth?: string | null; expect: number[] }[] = [
        { name: 'reader PUT new', method: 'PUT', path: '/webdav/alice/new.p7m', expect: [403] },
        { name: 'reader PUT existing', method: 'PUT', path: '/webdav/alice/a.p7m', expect: [403] },
        { name: 'reader PUT own name', method: 'PUT', path: '/webdav/admin/x.p7m', expect: [403] },
        ...['HEAD', 'DELETE', 'MKCOL', 'MOVE', 'COPY', 'OPTIONS', 'PROPPATCH', 'LOCK', 'POST', 'PATCH'].map(
          (method) => ({ name: `reader ${method}`, method, path: '/webdav/alice/a.p7m', expect: [405] }),
        ),
        { name: 'reader PROPFIND infinity', method: 'PROPFIND', path: '/webdav/', expect: [403] },
        { name: 'host GET own file', method: 'GET', path: '/webdav/alice/a.p7m', auth: ALICE, expect: [405] },
        { name: 'host GET other host', method: 'GET', path: '/webdav/bob/keep/b.p7m', auth: ALICE, expect: [405] },
        { name: 'host PROPFIND root', method: 'PROPFIND', path: '/webdav/', auth: ALICE, expect: [403] },
        { name: 'GET without credentials', method: 'GET', path: '/webdav/alice/a.p7m', auth: null, expect: [401] },
        {
          name: 'reader, wrong password',
          method: 'GET',
          path: '/webdav/alice/a.p7m',
          auth: basic('admin', 'nope'),
          expect: [401],
        },
        { name: 'GET missing', method: 'GET', path: '/webdav/alice/nope.p7m', expect: [404] },
        { name: 'GET missing host', method: 'GET', path: '/webdav/carol/x.p7m', expect: [404] },
        { name: 'GET a directory', method: 'GET', path: '/webdav/bob/keep/', expect: nginx ? [403] : [404] },
        { name: 'GET the root', method: 'GET', path: '/webdav/', expect: nginx ? [405] : [404] },
        { name: 'GET a symlink', method: 'GET', path: '/webdav/alice/lnk.p7m', expect: [403] },
        {
          name: 'GET through a symlinked dir',
          method: 'GET',
          path: '/webdav/alice/link/secret',
          expect: nginx ? [403, 404] : [403],
        },
        // nginx normalises the dots first and then answers for where they lead (never outside)
        { name: 'GET ../../', method: 'GET', path: '/webdav/alice/../../x/secret', expect: [400, 404] },
        { name: 'GET %2e%2e', method: 'GET', path: '/webdav/alice/%2e%2e/%2e%2e/x/secret', expect: [400, 404] },
        { name: 'GET the temp dir', method: 'GET', path: '/webdav/.deaddrop-tmp/x', expect: [400, 403] },
        {
          name: 'GET above the root',
          method: 'GET',
          path: '/webdav/alice%2f..%2f..%2fetc%2fpasswd',
          expect: [400, 404],
        },
      ];
      const before = snapshot(sink.root);
      const failures: string[] = [];
      for (const p of probes) {
        const auth = p.auth === undefined ? READER : p.auth;
        const headers: Record<string, string> = auth ? { authorization: auth } : {};
        if (p.method === 'PROPFIND') headers.depth = 'infinity';
        if (p.method === 'MOVE' || p.method === 'COPY') headers.destination = '/webdav/alice/moved.p7m';
        const r = await request(sink, p.method, p.path, { headers, body: p.method === 'PUT' ? 'EVIL' : undefined });
        if (!p.expect.includes(r.status)) failures.push(`${p.name}: ${p.method} ${p.path} -> ${r.status}`);
        if (r.body.includes('outside the tree')) failures.push(`${p.name}: leaked the file outside the tree`);
      }
      assert.deepEqual(failures, []);
      assert.deepEqual(snapshot(sink.root), before);
      const log = readFileSync(join(sink.root, '..', 'access.log'), 'utf8');
      assert.match(log, / admin .*"GET \/webdav\/alice\/big\.p7m(?: HTTP\/[\d.]+)?" 200 /);
      if (!nginx) assert.match(log, / admin "GET \/webdav\/alice\/big\.p7m" 200 0 \d+ms out=3000000\n/);
      assert.doesNotMatch(log, /admin-pw|alice-pw/);
    });

    test('a user named like the reader but for case is a host, not a reader', async () => {
      appendFileSync(sink.htpasswd, `ADMIN:${bcryptHash('upper-pw', 4)}\n`);
      const UPPER = basic('ADMIN', 'upper-pw');
      const get = await request(sink, 'GET', '/webdav/alice/a.p7m', { headers: { authorization: UPPER } });
      assert.equal(get.status, 405);
      const list = await request(sink, 'PROPFIND', '/webdav/', { headers: { authorization: UPPER, depth: '1' } });
      assert.equal(list.status, 403);
      const put = await request(sink, 'PUT', '/webdav/ADMIN/x.p7m', { headers: { authorization: UPPER }, body: 'own' });
      assert.equal(put.status, 201);
      assert.equal(readFileSync(join(sink.root, 'ADMIN', 'x.p7m'), 'utf8'), 'own');
    });

    test('without --reader, GET is 405 for every account (before credentials)', async () => {
      const plain = await start({ hosts: HOSTS, maxBody: '1MB' });
      try {
        appendFileSync(plain.htpasswd, `admin:${bcryptHash('admin-pw', 4)}\n`);
        writeFileSync(join(plain.root, 'alice', 'a.p7m'), 'alice data');
        for (const auth of [READER, ALICE, null]) {
          const r = await request(plain, 'GET', '/webdav/alice/a.p7m', {
            headers: auth ? { authorization: auth } : {},
          });
          assert.equal(r.status, 405);
        }
        const r = await request(plain, 'PROPFIND', '/webdav/', { headers: { authorization: READER, depth: '1' } });
        assert.equal(r.status, 403);
      } finally {
        await plain.stop();
      }
    });
  });
}
