import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { missingTools, openPut, runDeaddrop, startNginxSink, tempDir } from '@deaddrop/test';
import { parseRequestTarget } from '../src/path-policy.js';

test(
  'sink nginx-config prints the hardened block and nginx -t accepts it',
  { skip: missingTools('nginx') },
  async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'root'));
    writeFileSync(join(dir, 'htpasswd'), '');
    const args = [
      'sink',
      'nginx-config',
      '--root',
      join(dir, 'root'),
      '--htpasswd',
      join(dir, 'htpasswd'),
      '--listen',
      '127.0.0.1:8084',
      '--listen',
      '[::1]:8084',
    ];
    const r = await runDeaddrop([...args, '--check']);
    assert.equal(r.code, 0, r.stderr);
    for (const needle of [
      'disable_symlinks on;',
      `client_body_temp_path ${join(dir, 'root')}/.deaddrop-tmp;`,
      'limit_req zone=deaddrop_sink',
      'limit_conn_zone $binary_remote_addr zone=deaddrop_conn:10m;',
      'limit_conn deaddrop_conn 16;',
      'limit_conn_status 429;',
      'if ($request_uri ~ "^[^?]*(%2[fF]|%5[cC]|%00|//|/(\\.|%2[eE]){1,2}(/|\\?|\\z))") { return 400; }',
      'chattr +a',
      'dav_methods PUT;',
      'create_full_put_path on;',
      'listen [::1]:8084;',
      `alias ${join(dir, 'root')}/;`,
    ])
      assert.ok(r.stdout.includes(needle), needle);
    assert.doesNotMatch(r.stdout, /dav_methods[^;]*(DELETE|MKCOL|COPY|MOVE)/);
    const j = await runDeaddrop([...args, '--json']);
    assert.equal((JSON.parse(j.stdout) as { config: string }).config.trim(), r.stdout.trim());
    // a broken config is reported by nginx -t, as one line, exit 1
    const bad = await runDeaddrop([...args.slice(0, -2), '--listen', 'nonsense:99999', '--check']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /nginx -t refused/);
    const unsafe = await runDeaddrop([
      'sink',
      'nginx-config',
      '--root',
      '/srv/a b',
      '--htpasswd',
      'h',
      '--listen',
      ':1',
    ]);
    assert.equal(unsafe.code, 2);
    // --reader: a map marks the readers, nginx -t accepts it; without it nothing of it appears
    assert.doesNotMatch(r.stdout, /deaddrop_reader/);
    // keys are exact, case-sensitive regexes (map string keys ignore case; `default` is a keyword)
    const rd = await runDeaddrop([
      ...args,
      '--reader',
      'admin',
      '--reader',
      'backup.ro',
      '--reader',
      'default',
      '--check',
    ]);
    assert.equal(rd.code, 0, rd.stderr);
    assert.match(
      rd.stdout,
      /map \$remote_user \$deaddrop_reader \{\s+default 0;\s+"~\^admin\\z" 1;\s+"~\^backup\\\.ro\\z" 1;\s+"~\^default\\z" 1;\s+\}/,
    );
    assert.match(rd.stdout, /"\^\(PROPFIND\|PUT\|GET\)\\z"/);
    const badReader = await runDeaddrop([...args, '--reader', 'a b']);
    assert.equal(badReader.code, 2);
    const rootPrefix = await runDeaddrop([...args, '--prefix', '/']);
    assert.equal(rootPrefix.code, 2);
    assert.match(rootPrefix.stderr, /--prefix \/: .*name a directory/);
  },
);

test(
  'nginx: past 16 requests in progress from one address (slow PUTs) the next is 429; the slow ones finish',
  { skip: missingTools('nginx') },
  async () => {
    const sink = await startNginxSink({ hosts: { alice: 'pw' } });
    const authorization = 'Basic ' + Buffer.from('alice:pw').toString('base64');
    const open = (name: string, length: number) => openPut(sink.port, `/webdav/alice/${name}`, authorization, length);
    try {
      const slow = Array.from({ length: 16 }, (_, i) => open(`slow${i}`, 2));
      for (const s of slow) s.req.write('x');
      // nginx counts a request once its head is read: give the 16 heads time to arrive
      await new Promise((r) => setTimeout(r, 500));
      const extra = open('extra', 1);
      extra.req.end('y');
      assert.equal(await extra.done, 429);
      for (const s of slow) s.req.end('x');
      assert.deepEqual(await Promise.all(slow.map((s) => s.done)), Array<number>(16).fill(201));
      const after = open('after', 1);
      after.req.end('z');
      assert.equal(await after.done, 201);
      assert.equal(existsSync(join(sink.root, 'alice', 'extra')), false);
    } finally {
      await sink.stop();
    }
  },
);

test('path policy: one decode, no dot or empty segments, no encoded separators', () => {
  const ok = parseRequestTarget('/webdav/alice/a/b.p7m?x=1', '/webdav/');
  assert.deepEqual(ok, { kind: 'host', host: 'alice', segments: ['a', 'b.p7m'], trailingSlash: false });
  assert.deepEqual(parseRequestTarget('/webdav/%61lice/b%2Bc', '/webdav/'), {
    kind: 'host',
    host: 'alice',
    segments: ['b+c'],
    trailingSlash: false,
  });
  // decoded once: %2541 is the name "%41", which the charset refuses (never a second decode to "A")
  assert.equal(parseRequestTarget('/webdav/alice/%2541', '/webdav/').kind, 'bad');
  assert.deepEqual(parseRequestTarget('/webdav/', '/webdav/'), { kind: 'root' });
  assert.deepEqual(parseRequestTarget('/WEBDAV/alice/', '/webdav/'), { kind: 'outside' });
  for (const bad of [
    'a/../b',
    'a/./b',
    'a//b',
    'a/%2e%2e/b',
    'a%2fb/c',
    'a/b%5cc',
    'a/b%00',
    'a/.x',
    'a/%E0%A4%A',
    'a\\b/c',
    '.deaddrop-tmp/x',
    `a/${'x'.repeat(256)}`,
  ])
    assert.equal(parseRequestTarget(`/webdav/${bad}`, '/webdav/').kind, 'bad', bad);
});
