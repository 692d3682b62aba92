/**
 * verify against a host's root when the backup takes only part of it: what the live tree holds
 * and the backup lacks is a difference only where the host's selection takes it. With
 * `--config` (the host's client.json): its sources, excludes, archive directory and one file
 * system per source; without: the default config's (the whole backup root, one file system).
 * A config of another host, or of sources under another root, is a usage error naming it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { isRoot, makeTestRecipient, missingTools, runDeaddrop, tempDir, writeLocalClientConfig } from '@deaddrop/test';

interface Report {
  root: string;
  selection: string;
  compared: number;
  outside: number;
  differences: { path: string; what: string }[];
}

const extras = (r: Report) =>
  r.differences
    .filter((d) => d.what === 'extra')
    .map((d) => d.path)
    .sort();

function put(root: string, rel: string, content = `${rel}\n`): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), content);
}

test(
  'verify: only what the host selects counts as missing from the backup',
  { skip: missingTools('openssl'), timeout: 300_000 },
  async () => {
    const tmp = tempDir('deaddrop-verify-selection-');
    const host = join(tmp, 'host');
    for (const f of ['etc/a.conf', 'etc/sub/b', 'srv/data/x', 'srv/data/cache/t', 'srv/skip/s', 'home/u/f', 'top-file'])
      put(host, f);
    // as root (CI): a file system of its own inside a source, which the backup does not enter
    const mountPoint = join(host, 'srv/mnt');
    mkdirSync(mountPoint);
    const mounted = isRoot && spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', mountPoint]).status === 0;
    if (!mounted && process.env.CI === 'true') throw new Error('CI: this test must run as root (mount -t tmpfs)');
    try {
      if (mounted) put(host, 'srv/mnt/m');
      const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
      const c = writeLocalClientConfig(tmp, {
        sources: [join(host, 'etc'), join(host, 'srv')],
        recipients: [key.certPath],
        extra: { exclude: [`${host}/srv/**/cache`, `${host}/srv/skip`], archiveDir: join(host, 'srv/.deaddrop') },
      });
      const b = await runDeaddrop(['backup', '--config', c.config]);
      assert.equal(b.code, 0, b.stderr);
      const verify = (...more: string[]) =>
        runDeaddrop(['verify', '--from', join(tmp, 'sink'), '--host', 'h1', '--key', key.plainKeyPath,
          '--against', host, ...more]); // prettier-ignore
      const report = (r: { stdout: string }) => JSON.parse(r.stdout) as Report;

      // without --config: the whole backup root counts, another file system's mount point aside
      const d = await verify('--json');
      assert.equal(d.code, 1, d.stdout + d.stderr);
      assert.equal(report(d).root, host);
      assert.equal(report(d).selection, 'default');
      assert.deepEqual(extras(report(d)), ['home', 'srv/.deaddrop', 'srv/data/cache', 'srv/skip', 'top-file']);
      assert.equal(report(d).differences.length, 5, d.stdout);
      assert.equal(report(d).outside, mounted ? 1 : 0);

      // with the host's config: what it leaves out is not compared, and counted
      const k = await verify('--json', '--config', c.config);
      assert.equal(k.code, 0, k.stdout + k.stderr);
      assert.equal(report(k).selection, 'config');
      assert.deepEqual(report(k).differences, []);
      assert.equal(report(k).outside, mounted ? 6 : 5);
      const text = await verify('--config', c.config);
      assert.equal(text.code, 0, text.stderr);
      assert.match(
        text.stdout,
        new RegExp(`0 difference\\(s\\); ${mounted ? 6 : 5} live object\\(s\\) the backup does not select`),
      );

      // something new inside a source counts; beside the sources or excluded it does not
      put(host, 'etc/new');
      put(host, 'home/u/g');
      put(host, 'srv/data/cache/t2');
      put(host, 'srv/data/more/cache/t3');
      const n = await verify('--json', '--config', c.config);
      assert.equal(n.code, 1, n.stdout + n.stderr);
      assert.deepEqual(extras(report(n)), ['etc/new', 'srv/data/more']);
      const paths = report(n).differences.map((x) => x.path);
      assert.ok(
        paths.every((p) => ['etc', 'etc/new', 'srv/data', 'srv/data/more'].includes(p)),
        JSON.stringify(report(n).differences),
      );

      // another host's config, or one of other sources: exit 2 naming it, before any comparing
      const config = JSON.parse(readFileSync(c.config, 'utf8')) as Record<string, unknown>;
      const other = join(tmp, 'other.json');
      writeFileSync(other, JSON.stringify({ ...config, host: 'h2' }));
      const h = await verify('--config', other);
      assert.equal(h.code, 2, h.stdout + h.stderr);
      assert.ok(h.stderr.includes(`--config ${other}: the config of host h2, not of --host h1`), h.stderr);
      writeFileSync(other, JSON.stringify({ ...config, sources: [join(host, 'etc')] }));
      const s = await verify('--config', other);
      assert.equal(s.code, 2, s.stdout + s.stderr);
      assert.ok(
        s.stderr.includes(
          `--config ${other}: its sources are under ${join(host, 'etc')}, but the backup at that time is of ${host}`,
        ),
        s.stderr,
      );
      assert.equal(s.stdout, '');
      writeFileSync(other, JSON.stringify({ ...config, excludes: [] }));
      const u = await verify('--config', other);
      assert.equal(u.code, 2, u.stdout + u.stderr);
      assert.match(u.stderr, new RegExp(`${other}.*excludes`));
    } finally {
      if (mounted) spawnSync('umount', [mountPoint]);
    }
  },
);
