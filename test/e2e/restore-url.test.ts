/**
 * Restore straight from a WebDAV sink (`restore|list|verify --from URL --netrc F`): a real
 * backup (full + incremental) delivered to a real `sink serve --reader admin`, restored over
 * HTTP byte-exact at each time; the reader account is all the restore uses (GET + PROPFIND);
 * a host account, a wrong password, an unreachable sink and a tampered volume fail clearly
 * and write nothing wrong.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  existsSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, runDeaddrop, startEmbeddedSink, startNginxSink, type RunningSink } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';
import { bcryptHash } from '@deaddrop/sink/htpasswd';
import { backup, HOST, makeHost, PASSWORD, type MirrorHost } from './mirror-helpers.js';

const READER_PW = 'rd-Kq7vW3-never-print-me';

function netrcFile(dir: string, name: string, login: string, password: string): string {
  const file = join(dir, name);
  writeFileSync(file, `machine 127.0.0.1\n  login ${login}\n  password ${password}\n`, { mode: 0o600 });
  return file;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of the sink that answers the first request of each
 * method + path with 503 (`fail503`), or cuts the first GET of a matching path halfway through
 * its body (`cutGet`; every GET of it with `cutAlways`, a range too). Everything else passes
 * through; a Range asked for is logged.
 */
async function flakyProxy(sinkPort: number, opts: { fail503?: boolean; cutGet?: RegExp; cutAlways?: boolean }) {
  const seen = new Set<string>();
  const log: string[] = [];
  const server = http.createServer((req, res) => {
    const key = `${req.method} ${req.url}`;
    const first = !seen.has(key) || opts.cutAlways === true;
    seen.add(key);
    if (req.headers.range) log.push(`range ${req.headers.range} ${key}`);
    if (opts.fail503 && first) {
      log.push(`503 ${key}`);
      req.resume();
      res.writeHead(503, { 'content-length': '0' }).end();
      return;
    }
    const up = http.request(
      { host: '127.0.0.1', port: sinkPort, method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode!, ur.headers);
        const len = Number(ur.headers['content-length'] ?? 0);
        if (first && req.method === 'GET' && opts.cutGet?.test(req.url ?? '') && len > 1000) {
          log.push(`cut ${key}${req.headers.range ? ' (range)' : ''}`);
          let sent = 0;
          ur.on('data', (c: Buffer) => {
            if (sent + c.length >= len / 2) {
              res.write(c.subarray(0, Math.max(0, len / 2 - sent)));
              ur.destroy();
              res.socket?.destroy();
              return;
            }
            sent += c.length;
            res.write(c);
          });
          return;
        }
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/webdav/`,
    log,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

type FlakyProxy = Awaited<ReturnType<typeof flakyProxy>>;

/** Regular files anywhere under dir. */
function regularFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}

test(
  'restore --from URL (embedded sink, reader account)',
  { skip: missingTools('cp'), timeout: 600_000 },
  async (t) => {
    let sink: RunningSink;
    let host: MirrorHost;
    let netrc: string;
    const snaps: { time: string; dir: string }[] = [];
    let n = 0;
    const out = () => join(host.tmp, `out${++n}`);
    /** `fn` with a flakyProxy in front of the sink, closed after. */
    const throughProxy = async (opts: Parameters<typeof flakyProxy>[1], fn: (proxy: FlakyProxy) => Promise<void>) => {
      const proxy = await flakyProxy(sink.port, opts);
      try {
        await fn(proxy);
      } finally {
        await proxy.close();
      }
    };
    const restoreArgs = (from: string, to: string, nf = netrc) =>
    ['restore', '--from', from, '--host', HOST, '--key', host.plainKey, '--netrc', nf, '--to', to]; // prettier-ignore

    {
      // tempDir() (inside makeHost) lives as long as this test; subtests below share it
      sink = await startEmbeddedSink({ hosts: { [HOST]: PASSWORD }, extraArgs: ['--reader', 'admin'] });
      appendFileSync(sink.htpasswd, `admin:${bcryptHash(READER_PW, 4)}\n`);
      host = await makeHost([{ name: 'a', url: `${sink.url}${HOST}/` }]);
      netrc = netrcFile(host.tmp, 'reader.netrc', 'admin', READER_PW);
      for (const step of [0, 1]) {
        if (step > 0) host.change(step);
        const b = await backup(host, step === 0 ? ['--full'] : ['--incremental']);
        assert.equal(b.code, 0, b.run.stderr);
        const dir = join(host.tmp, `snap${step}`);
        assert.equal(spawnSync('cp', ['-a', host.src, dir]).status, 0);
        snaps.push({ time: b.result.time as string, dir });
      }
    }

    await t.test('restores byte-exact at each time; only GET and PROPFIND by the reader', async () => {
      const logBefore = sink.accessLog().length;
      for (const s of snaps) {
        const to = out();
        const r = await runDeaddrop([...restoreArgs(sink.url, to), '--time', s.time, '--json']);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(compareTrees(s.dir, to), [], `as of ${s.time}`);
        assert.equal((JSON.parse(r.stdout) as { from: string }).from, `${sink.url}${HOST}/`);
      }
      // the host directory as --from works the same
      const to = out();
      const r = await runDeaddrop(restoreArgs(`${sink.url}${HOST}/`, to));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(compareTrees(snaps[1]!.dir, to), []);
      const methods = new Set(
        sink
          .accessLog()
          .slice(logBefore)
          .map((e) => `${e.method} ${e.status}`),
      );
      assert.ok(methods.has('GET 200'), [...methods].join(', '));
      assert.deepEqual(
        [...methods].filter((m) => !/^(GET 200|PROPFIND 207|PROPFIND 404)$/.test(m)),
        [],
      );
    });

    await t.test('list (sets) and verify over the URL', async () => {
      const r = await runDeaddrop(['list', '--from', sink.url, '--host', HOST, '--netrc', netrc, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const listing = JSON.parse(r.stdout) as {
        chains: { sets: { type: string; missing: string[]; storedBytes: number }[] }[];
      };
      assert.equal(listing.chains.length, 1);
      assert.deepEqual(
        listing.chains[0]!.sets.map((s) => [s.type, s.missing]),
        [
          ['full', []],
          ['inc', []],
        ],
      );
      assert.ok(listing.chains[0]!.sets[0]!.storedBytes > 2_500_000);
      const f = await runDeaddrop(['list', '--from', sink.url, '--host', HOST, '--netrc', netrc, '--files',
      '--key', host.plainKey, '--json']); // prettier-ignore
      assert.equal(f.code, 0, f.stderr);
      const files = (JSON.parse(f.stdout) as { files: { path: string; size: number }[] }).files;
      assert.deepEqual(
        files.find((x) => x.path === 'd/big.bin')?.size,
        statSync(join(snaps[1]!.dir, 'd', 'big.bin')).size,
      );
      const v = await runDeaddrop(['verify', '--from', sink.url, '--host', HOST, '--netrc', netrc,
      '--key', host.plainKey, '--against', snaps[1]!.dir]); // prettier-ignore
      assert.equal(v.code, 0, v.stdout + v.stderr);
      for (const cmd of ['restore', 'list', 'verify']) {
        const h = await runDeaddrop([cmd, '--help']);
        assert.match(h.stdout, /--from[\s\S]*http\(s\):\/\/[\s\S]*--netrc[\s\S]*--ca/, cmd);
      }
      assert.match((await runDeaddrop(['sink', 'serve', '--help'])).stdout, /--reader/);
    });

    await t.test('--path over the URL reads at most 2 volumes', async () => {
      const to = out();
      const r = await runDeaddrop([
        ...restoreArgs(sink.url, to),
        '--time',
        snaps[0]!.time,
        '--path',
        'a.txt',
        '--json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const rep = JSON.parse(r.stdout) as { volumesRead: number; sets: { volumes: number }[] };
      assert.ok(rep.sets[0]!.volumes >= 3, `full set has ${rep.sets[0]!.volumes} volumes`);
      assert.ok(rep.volumesRead <= 2, `read ${rep.volumesRead}`);
      assert.deepEqual(readdirSync(to), ['a.txt']);
    });

    await t.test('https with --ca: the same sink root served over TLS restores byte-exact', async () => {
      const tls = await startEmbeddedSink({ tls: true, extraArgs: ['--reader', 'admin'] });
      try {
        appendFileSync(tls.htpasswd, `admin:${bcryptHash(READER_PW, 4)}\n`);
        assert.equal(spawnSync('cp', ['-a', join(sink.root, HOST), tls.root]).status, 0);
        assert.match(tls.url, /^https:/);
        const to = out();
        let r = await runDeaddrop([...restoreArgs(tls.url, to), '--ca', tls.caFile!]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(compareTrees(snaps[1]!.dir, to), []);
        // without the CA the self-signed certificate is refused, naming the URL
        r = await runDeaddrop(['list', '--from', tls.url, '--host', HOST, '--netrc', netrc]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /https:\/\/127\.0\.0\.1:\d+\/webdav\/.*(certificate|SELF_SIGNED)/i);
        // --ca is for https only; --netrc is required for a URL
        r = await runDeaddrop(['list', '--from', sink.url, '--host', HOST, '--netrc', netrc, '--ca', tls.caFile!]);
        assert.equal(r.code, 2, r.stderr);
        r = await runDeaddrop(['list', '--from', sink.url, '--host', HOST]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /--netrc/);
      } finally {
        await tls.stop();
      }
    });

    await t.test(
      'nginx + dav-ext with nginx-config --reader: the same host directory restores byte-exact',
      { skip: missingTools('nginx') },
      async () => {
        const ng = await startNginxSink({ readers: ['admin'] });
        try {
          appendFileSync(ng.htpasswd, `admin:${bcryptHash(READER_PW, 4)}\n`);
          assert.equal(spawnSync('cp', ['-a', join(sink.root, HOST), ng.root]).status, 0);
          const to = out();
          const r = await runDeaddrop([...restoreArgs(ng.url, to), '--time', snaps[0]!.time]);
          assert.equal(r.code, 0, r.stderr);
          assert.deepEqual(compareTrees(snaps[0]!.dir, to), []);
          const methods = new Set(ng.accessLog().map((e) => e.method));
          assert.deepEqual([...methods].sort(), ['GET', 'PROPFIND']);
        } finally {
          await ng.stop();
        }
      },
    );

    await t.test('a 503 on every first request is retried; the restore is byte-exact', async () => {
      await throughProxy({ fail503: true }, async (proxy) => {
        const to = out();
        const r = await runDeaddrop(restoreArgs(proxy.url, to));
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(compareTrees(snaps[1]!.dir, to), []);
        assert.ok(
          proxy.log.some((l) => l.startsWith('503 PROPFIND')),
          proxy.log.join('\n'),
        );
        assert.ok(
          proxy.log.some((l) => /^503 GET .*\.sha256sums$/.test(l)),
          proxy.log.join('\n'),
        );
        assert.ok(
          proxy.log.some((l) => /^503 GET .*\.vol1\.difftar/.test(l)),
          proxy.log.join('\n'),
        );
      });
    });

    // vol2: the first range of d/big.bin (vol1, at a 1 MiB volume size, holds only what comes before it)
    const VOL2 = /duplicity-full\..*\.vol2\.difftar/;

    await t.test('a volume cut off mid-body is asked for again from there: the restore is byte-exact', async () => {
      await throughProxy({ cutGet: VOL2 }, async (proxy) => {
        const to = out();
        const r = await runDeaddrop(restoreArgs(proxy.url, to));
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(compareTrees(snaps[1]!.dir, to), []);
        const cut = proxy.log.find((l) => l.startsWith('cut GET'));
        assert.ok(cut, proxy.log.join('\n'));
        // the rest only: from the byte where the cut came (half the volume), not from 0
        const resumed = proxy.log.filter((l) => l.startsWith('range ') && l.endsWith(cut.slice('cut '.length)));
        assert.equal(resumed.length, 1, proxy.log.join('\n'));
        // (what the proxy wrote before it cut may not all have left it)
        const from = Number(/^range bytes=(\d+)- /.exec(resumed[0]!)?.[1]);
        const size = statSync(join(sink.root, HOST, cut.replace(/^.*\//, ''))).size;
        assert.ok(from > 0 && from <= Math.floor(size / 2), `${resumed[0]} of ${size}`);
      });
    });

    await t.test('a volume cut off every time: restore fails naming it, nothing of it in DEST', async (st) => {
      await throughProxy({ cutGet: VOL2, cutAlways: true }, async (proxy) => {
        const to = out();
        const r = await runDeaddrop(restoreArgs(proxy.url, to));
        st.diagnostic(r.stderr.trim());
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /duplicity-full\.\d{8}T\d{6}Z\.vol2\.difftar\.gz\.p7m: connection lost after \d+ bytes/);
        // a file that cannot be read is not said to differ from the sums file, nor downloaded
        // whole once more to find out: one GET of the whole, the rest ranges
        assert.doesNotMatch(r.stderr, /tampered|differs/);
        assert.equal(
          proxy.log.filter((l) => /^cut GET .*vol2\.difftar\.gz\.p7m$/.test(l)).length,
          1,
          proxy.log.join('\n'),
        );
        // it was taken up again from where it broke off, from further on each time
        const ranges = proxy.log.filter((l) => l.startsWith('range ')).map((l) => Number(/bytes=(\d+)-/.exec(l)![1]));
        assert.ok(ranges.length >= 5 && ranges[1]! > ranges[0]!, proxy.log.join('\n'));
        assert.deepEqual(
          regularFiles(to).filter((f) => f.includes('big.bin')),
          [],
        );
      });
    });

    await t.test('wrong password, a host account, an unreachable sink: clear errors, nothing written', async () => {
      const wrong = netrcFile(host.tmp, 'wrong.netrc', 'admin', 'not-the-password');
      let to = out();
      let r = await runDeaddrop(restoreArgs(sink.url, to, wrong));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /credentials refused by http:\/\/127\.0\.0\.1:\d+\/webdav\/\S* \(check --netrc/);
      assert.doesNotMatch(r.stderr + r.stdout, /not-the-password/);
      assert.ok(!existsSync(to) || readdirSync(to).length === 0);

      // the host's own account lists its directory but may not GET
      const hostNetrc = netrcFile(host.tmp, 'host.netrc', HOST, PASSWORD);
      to = out();
      r = await runDeaddrop(restoreArgs(`${sink.url}${HOST}/`, to, hostNetrc));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /this account may not read \(GET\) on http:\S+: needs a sink --reader account/);
      assert.doesNotMatch(r.stderr, new RegExp(PASSWORD));
      assert.ok(!existsSync(to) || readdirSync(to).length === 0);

      r = await runDeaddrop(['list', '--from', 'http://127.0.0.1:1/webdav/', '--host', HOST, '--netrc', netrc]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /http:\/\/127\.0\.0\.1:1\/webdav\/.*ECONNREFUSED/);

      const loose = netrcFile(host.tmp, 'loose.netrc', 'admin', READER_PW);
      spawnSync('chmod', ['644', loose]);
      r = await runDeaddrop(['list', '--from', sink.url, '--host', HOST, '--netrc', loose]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /loose\.netrc has mode 0644/);
    });

    await t.test('a tampered volume on the sink: restore fails naming it and writes nothing from it', async () => {
      const hostDir = join(sink.root, HOST);
      const vol1 = readdirSync(hostDir).find((f) => /^duplicity-full\..*\.vol1\.difftar\.gz\.p7m$/.test(f))!;
      const path = join(hostDir, vol1);
      const fd = openSync(path, 'r+');
      const at = statSync(path).size >> 1;
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, at);
      b[0] = b[0]! ^ 0x55;
      writeSync(fd, b, 0, 1, at);
      closeSync(fd);
      const to = out();
      const r = await runDeaddrop(restoreArgs(sink.url, to));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`${vol1.replace(/\./g, '\\.')}.*(sums file|tampered)`));
      // vol1 holds the first files: none of them (nor anything else) is in DEST, no staging left
      assert.deepEqual(regularFiles(to), []);
      assert.ok(!existsSync(to) || readdirSync(to).every((e) => !e.startsWith('.deaddrop-restore-')));
      assert.ok(!existsSync(join(to, 'a.txt')) || !lstatSync(join(to, 'a.txt')).isFile());
    });
    await sink.stop();
  },
);
