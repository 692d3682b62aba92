import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { isRoot, missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { parseHtpasswd, verifyHash } from '../src/htpasswd.js';

const id = (flag: string, user: string) => Number(spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim());

/** A scratch sink: DIR/root (the sink root) and DIR/htpasswd (not made). */
function sink(): { dir: string; root: string; htpasswd: string } {
  const dir = tempDir();
  const root = join(dir, 'root');
  mkdirSync(root);
  return { dir, root, htpasswd: join(dir, 'htpasswd') };
}

const addHost = (host: string, root: string, htpasswd: string, more: string[] = [], input?: string) =>
  runDeaddrop(['sink', 'add-host', host, '--root', root, '--htpasswd', htpasswd, '--cost', '4', ...more], {
    input: input ?? '',
  });

test('sink add-host: an --htpasswd that cannot be the file is a usage error naming it', async () => {
  const { dir, root } = sink();
  const asDir = join(dir, 'hp');
  mkdirSync(asDir);
  const fileAsParent = join(dir, 'plain');
  writeFileSync(fileAsParent, '');
  for (const [file, why] of [
    [asDir, 'is a directory'],
    [join(dir, 'nodir', 'x'), `directory ${join(dir, 'nodir')} does not exist`],
    [join(fileAsParent, 'x'), 'a component of the path is not a directory'],
  ] as const) {
    const r = await addHost('a', root, file);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim(), `deaddrop: --htpasswd ${file}: ${why}`);
  }
});

test(
  'sink add-host: a wrong --owner or a dangling ROOT/HOST fails before the entry is written; a rerun gives the htpasswd the group',
  { skip: !isRoot ? 'needs root (chown)' : missingTools('id') },
  async () => {
    const { root, htpasswd } = sink();
    const typo = await addHost('web1.lab', root, htpasswd, ['--owner', 'nobody-no-such-user']);
    assert.equal(typo.code, 2, typo.stderr);
    assert.match(typo.stderr, /--owner nobody-no-such-user: no such user/);
    const badGroup = await addHost('web1.lab', root, htpasswd, ['--owner', 'nobody:no-such-group']);
    assert.equal(badGroup.code, 2, badGroup.stderr);
    assert.match(badGroup.stderr, /no such group no-such-group/);
    assert.equal(existsSync(htpasswd), false, 'no entry with a password nobody was shown');
    assert.equal(existsSync(join(root, 'web1.lab')), false);

    // the right owner: the entry is added now and its password shown
    const ok = await addHost('web1.lab', root, htpasswd, ['--owner', 'nobody', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const r = JSON.parse(ok.stdout) as { entry: string; password: string };
    assert.equal(r.entry, 'added');
    assert.equal(await verifyHash(r.password, parseHtpasswd(readFileSync(htpasswd, 'utf8')).get('web1.lab')!), true);
    assert.equal(statSync(join(root, 'web1.lab')).uid, id('-u', 'nobody'));
    assert.equal(statSync(htpasswd).gid, id('-g', 'nobody'));
    assert.equal(statSync(htpasswd).mode & 0o777, 0o640);

    // ROOT/HOST a symlink to nothing: refused, and no entry for it
    symlinkSync(join(root, 'nowhere'), join(root, 'web2.lab'));
    const dangling = await addHost('web2.lab', root, htpasswd);
    assert.equal(dangling.code, 1, dangling.stderr);
    assert.match(dangling.stderr, /web2\.lab: /);
    assert.equal(parseHtpasswd(readFileSync(htpasswd, 'utf8')).has('web2.lab'), false);
    assert.ok(lstatSync(join(root, 'web2.lab')).isSymbolicLink(), 'left alone');

    // an htpasswd made without --owner gets the group on a rerun with it
    const other = sink();
    assert.equal((await addHost('web3.lab', other.root, other.htpasswd)).code, 0);
    assert.equal(statSync(other.htpasswd).gid, 0);
    const rerun = await addHost('web3.lab', other.root, other.htpasswd, ['--owner', 'nobody']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stdout, /htpasswd entry unchanged; htpasswd group set to /);
    assert.equal(statSync(other.htpasswd).gid, id('-g', 'nobody'));
  },
);

test(
  'sink add-host: ROOT/HOST a symlink to a directory is refused, never chowned through; ROOT a symlink is followed',
  { skip: !isRoot ? 'needs root (chown)' : missingTools('id') },
  async () => {
    const { dir, root, htpasswd } = sink();
    // planted by whoever can write ROOT (the sink user) to have root chown /etc-like directories
    const victim = join(dir, 'victim');
    mkdirSync(victim, { mode: 0o700 });
    symlinkSync(victim, join(root, 'web1.lab'));
    const r = await addHost('web1.lab', root, htpasswd, ['--owner', 'nobody', '--password-stdin'], 'pw\n');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /web1\.lab: a symbolic link, not a directory: refused/);
    const st = statSync(victim);
    assert.deepEqual([st.uid, st.mode & 0o777], [0, 0o700], 'the link target keeps its owner');
    assert.equal(existsSync(htpasswd), false, 'nothing written');
    // without --owner too: "exists" would make the sink serve the link target
    const plain = await addHost('web1.lab', root, htpasswd);
    assert.equal(plain.code, 1, plain.stderr);

    // ROOT itself is the admin's path: a symlink to the real root is fine
    const rootLink = join(dir, 'root-link');
    symlinkSync(root, rootLink);
    const ok = await addHost('web2.lab', rootLink, htpasswd, ['--owner', 'nobody']);
    assert.equal(ok.code, 0, ok.stderr);
    const made = lstatSync(join(root, 'web2.lab'));
    assert.ok(made.isDirectory());
    assert.equal(made.uid, id('-u', 'nobody'));
  },
);

test(
  'sink add-host: a rerun converges to what a first run makes (directory 0750, htpasswd 0640 with the group), whatever the umask',
  { skip: !isRoot ? 'needs root (chown)' : missingTools('id') },
  async () => {
    const { root, htpasswd } = sink();
    const dir = join(root, 'web1.lab');
    const owner = ['--owner', 'nobody:daemon'];
    const looks = () => [statSync(dir), statSync(htpasswd)].map((st) => [st.uid, st.gid, st.mode & 0o7777]);
    const first = [
      [id('-u', 'nobody'), id('-g', 'daemon'), 0o750],
      [0, id('-g', 'daemon'), 0o640],
    ];
    // the admin's umask (077 here) does not choose the modes: nginx reads through the group
    const umask = process.umask(0o077);
    try {
      assert.equal((await addHost('web1.lab', root, htpasswd, owner)).code, 0);
    } finally {
      process.umask(umask);
    }
    assert.deepEqual(looks(), first);

    // drifted since (a chmod, a chgrp by hand): the rerun puts back owner, group and mode alike
    chmodSync(dir, 0o777);
    chownSync(dir, 0, 0);
    chmodSync(htpasswd, 0o600);
    chownSync(htpasswd, 0, 0);
    const rerun = await addHost('web1.lab', root, htpasswd, owner);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.deepEqual(looks(), first);
    assert.match(rerun.stdout, /directory mode set to 0750 \(was 0777\)/);
    assert.match(rerun.stdout, /htpasswd mode set to 0640 \(was 0600\)/);

    // nothing to put back: nothing said
    const again = await addHost('web1.lab', root, htpasswd, owner);
    assert.deepEqual(looks(), first);
    assert.doesNotMatch(again.stdout, /mode set|group set/);
  },
);

test('sink add-host: concurrent runs on one htpasswd keep every entry, each with the password it reported', async () => {
  const { root, htpasswd } = sink();
  const n = 8;
  // half choose their password, half have one generated; two more race for one new host
  const runs = Array.from({ length: n }, (_, i) =>
    i % 2 === 0
      ? addHost(`host${i}`, root, htpasswd, ['--password-stdin', '--json'], `pw${i}\n`)
      : addHost(`host${i}`, root, htpasswd, ['--json']),
  );
  runs.push(addHost('same', root, htpasswd, ['--json']), addHost('same', root, htpasswd, ['--json']));
  const results = await Promise.all(runs);
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const entries = parseHtpasswd(readFileSync(htpasswd, 'utf8'));
  assert.equal(entries.size, n + 1, [...entries.keys()].join(' '));
  for (let i = 0; i < n; i++) {
    const { password } = JSON.parse(results[i]!.stdout) as { password?: string };
    const pw = i % 2 === 0 ? `pw${i}` : password!;
    assert.equal(await verifyHash(pw, entries.get(`host${i}`)!), true, `host${i}`);
  }
  const same = results.slice(n).map((r) => JSON.parse(r.stdout) as { entry: string; password?: string });
  assert.deepEqual(same.map((r) => r.entry).sort(), ['added', 'unchanged']);
  const shown = same.find((r) => r.entry === 'added')!.password!;
  assert.equal(await verifyHash(shown, entries.get('same')!), true, 'the one password shown is the one stored');
  assert.equal(existsSync(`${htpasswd}.lock`), false, 'the lock is gone');
});
