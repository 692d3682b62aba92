import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { bcryptHash, HtpasswdStore, hashScheme, parseHtpasswd, verifyHash } from '../src/htpasswd.js';
import { PasswordChecks } from '../src/password-checks.js';

/** An entry made by Apache's own htpasswd tool (-B bcrypt, -m apr1, -s SHA). */
function apacheEntry(flag: string, user: string, password: string): string {
  const r = spawnSync('htpasswd', ['-n', '-b', flag, user, password], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test(
  'verifies bcrypt, apr1-MD5 and {SHA} entries written by Apache htpasswd',
  { skip: missingTools('htpasswd') },
  async () => {
    for (const [flag, scheme] of [
      ['-B', 'bcrypt'],
      ['-m', 'apr1'],
      ['-s', 'sha1'],
    ] as const) {
      const hash = parseHtpasswd(apacheEntry(flag, 'h1', 'right:pass')).get('h1')!;
      assert.equal(hashScheme(hash), scheme);
      assert.equal(await verifyHash('right:pass', hash), true, `${scheme} right password`);
      assert.equal(await verifyHash('right:pasS', hash), false, `${scheme} wrong password`);
    }
    // crypt(3) and plain text entries are never accepted
    assert.equal(await verifyHash('pw', 'pw'), false);
    assert.equal(await verifyHash('pw', 'abJnggxhB/yWI'), false);
  },
);

test('the store sees added and changed entries without a restart', { skip: missingTools('htpasswd') }, async () => {
  const file = join(tempDir(), 'htpasswd');
  writeFileSync(file, apacheEntry('-B', 'a', 'one') + '\n');
  const store = new HtpasswdStore(file);
  await store.load();
  assert.equal(await store.verify('a', 'one'), true);
  assert.equal(await store.verify('b', 'two'), false);
  writeFileSync(file, apacheEntry('-m', 'a', 'new') + '\n' + apacheEntry('-s', 'b', 'two') + '\n');
  assert.equal(await store.verify('a', 'one'), false, 'cached success dropped after the change');
  assert.equal(await store.verify('a', 'new'), true);
  assert.equal(await store.verify('b', 'two'), true);
});

test('sink add-host: directory + bcrypt entry, idempotent, password printed once', async () => {
  const dir = tempDir();
  const root = join(dir, 'root');
  const htpasswd = join(dir, 'htpasswd');
  spawnSync('mkdir', [root]);
  const first = await runDeaddrop([
    'sink',
    'add-host',
    'web1.lab',
    '--root',
    root,
    '--htpasswd',
    htpasswd,
    '--cost',
    '4',
    '--json',
  ]);
  assert.equal(first.code, 0, first.stderr);
  const r1 = JSON.parse(first.stdout) as { entry: string; password: string; directoryCreated: boolean };
  assert.equal(r1.entry, 'added');
  assert.equal(r1.directoryCreated, true);
  assert.ok(statSync(join(root, 'web1.lab')).isDirectory());
  const hash = parseHtpasswd(readFileSync(htpasswd, 'utf8')).get('web1.lab')!;
  assert.match(hash, /^\$2y\$04\$/);
  assert.equal(await verifyHash(r1.password, hash), true);

  const again = await runDeaddrop(['sink', 'add-host', 'web1.lab', '--root', root, '--htpasswd', htpasswd, '--json']);
  const r2 = JSON.parse(again.stdout) as { entry: string; password?: string; directoryCreated: boolean };
  assert.deepEqual([r2.entry, r2.password, r2.directoryCreated], ['unchanged', undefined, false]);
  assert.equal(parseHtpasswd(readFileSync(htpasswd, 'utf8')).get('web1.lab'), hash, 'entry untouched');

  const set = await runDeaddrop(
    ['sink', 'add-host', 'web1.lab', '--root', root, '--htpasswd', htpasswd, '--password-stdin', '--cost', '4'],
    { input: 'chosen-pw\n' },
  );
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /htpasswd entry updated/);
  assert.doesNotMatch(set.stdout, /chosen-pw/);
  assert.equal(await verifyHash('chosen-pw', parseHtpasswd(readFileSync(htpasswd, 'utf8')).get('web1.lab')!), true);

  for (const bad of ['.deaddrop-tmp', '../x', 'a:b', '']) {
    const r = await runDeaddrop(['sink', 'add-host', bad, '--root', root, '--htpasswd', htpasswd]);
    assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});

test(
  'sink add-host --owner www-data: nginx (running as www-data) can read a new htpasswd file, also after a rewrite',
  { skip: !isRoot ? 'needs root (chown)' : missingTools('id', 'chgrp') },
  async () => {
    const dir = tempDir();
    const root = join(dir, 'root');
    const htpasswd = join(dir, 'htpasswd');
    spawnSync('mkdir', [root]);
    const www = Number(spawnSync('id', ['-g', 'www-data'], { encoding: 'utf8' }).stdout.trim());
    const owner = ['--cost', '4', '--owner', 'www-data'];
    const add = (host: string) =>
      runDeaddrop(['sink', 'add-host', host, '--root', root, '--htpasswd', htpasswd, ...owner]);
    const first = await add('web1.lab');
    assert.equal(first.code, 0, first.stderr);
    let st = statSync(htpasswd);
    assert.equal(st.mode & 0o777, 0o640);
    assert.equal(st.gid, www, 'the group nginx runs as may read it');
    assert.equal(
      statSync(join(root, 'web1.lab')).uid,
      Number(spawnSync('id', ['-u', 'www-data'], { encoding: 'utf8' }).stdout.trim()),
    );
    // a second host rewrites the file (temp + rename): owner and group stay
    const second = await add('web2.lab');
    assert.equal(second.code, 0, second.stderr);
    st = statSync(htpasswd);
    assert.equal(st.gid, www);
    assert.equal(parseHtpasswd(readFileSync(htpasswd, 'utf8')).size, 2);
  },
);

test('a user on two lines: the first counts (as in nginx); add-host leaves one line', async () => {
  const dir = tempDir();
  const htpasswd = join(dir, 'htpasswd');
  spawnSync('mkdir', [join(dir, 'root')]);
  writeFileSync(htpasswd, `h:${bcryptHash('first', 4)}\nother:${bcryptHash('o', 4)}\nh:${bcryptHash('second', 4)}\n`);
  const store = new HtpasswdStore(htpasswd);
  await store.load();
  assert.deepEqual([await store.verify('h', 'first'), await store.verify('h', 'second')], [true, false]);
  const r = await runDeaddrop(
    ['sink', 'add-host', 'h', '--root', join(dir, 'root'), '--htpasswd', htpasswd, '--password-stdin', '--cost', '4'],
    { input: 'rotated\n' },
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = readFileSync(htpasswd, 'utf8').trim().split('\n');
  assert.deepEqual(
    lines.map((l) => l.split(':')[0]),
    ['h', 'other'],
  );
  assert.deepEqual(
    [await store.verify('h', 'first'), await store.verify('h', 'second'), await store.verify('h', 'rotated')],
    [false, false, true],
  );
});

test('a wrong password costs as much for a quick hash as for an unknown user: a cost-10 bcrypt each', async (t) => {
  const file = join(tempDir(), 'htpasswd');
  // {SHA} and cost-4 bcrypt answer in microseconds; unknown users pay a cost-10 bcrypt. Counted,
  // not timed: which bcrypt costs each answer paid (a timing on a loaded machine tells nothing).
  writeFileSync(file, `sha:{SHA}${createHash('sha1').update('pw').digest('base64')}\ncheap:${bcryptHash('pw', 4)}\n`);
  const store = new HtpasswdStore(file);
  await store.load();
  const costs: number[] = [];
  const compare = PasswordChecks.prototype.compare;
  t.mock.method(
    PasswordChecks.prototype,
    'compare',
    function (this: PasswordChecks, s: string, hash: string, client: string) {
      costs.push(Number(/^\$2[aby]\$(\d\d)\$/.exec(hash)?.[1]));
      return compare.call(this, s, hash, client);
    },
  );
  const paid = async (user: string, password = 'wrong') => {
    costs.length = 0;
    assert.equal(await store.verify(user, password), password !== 'wrong');
    return Math.max(0, ...costs);
  };
  assert.equal(await paid('nobody'), 10);
  assert.equal(await paid('sha'), 10);
  assert.equal(await paid('cheap'), 10);
  assert.equal(await paid('sha', 'pw'), 0, 'a right password pays no dummy comparison');
});
