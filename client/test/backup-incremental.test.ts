/**
 * What makes an incremental: an unchanged tree gives an empty one (also for owners without a
 * name), and a new full starts when what the chain was made for changes (the host, the sinks).
 */
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, readdirSync, readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { isRoot, makeTestRecipient, missingTools, runDeaddrop, tempDir, writeLocalClientConfig } from '@deaddrop/test';

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, any>;

async function setup() {
  const tmp = tempDir('deaddrop-incremental-');
  const src = join(tmp, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'a\n');
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const c = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath] });
  const backup = async (...args: string[]) => {
    const r = await runDeaddrop(['backup', '--config', c.config, '--json', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return { ...lastJson(r.stdout), stdout: r.stdout } as Record<string, any>;
  };
  return { tmp, src, key, ...c, backup };
}

test(
  'owners without a name (no passwd or group entry) do not count as changed',
  { skip: !isRoot ? 'needs root to chown' : missingTools('openssl') },
  async () => {
    const s = await setup();
    writeFileSync(join(s.src, 'd', 'nameless'), 'owned by nobody we know\n');
    chownSync(join(s.src, 'd', 'nameless'), 4242, 4243);
    chownSync(join(s.src, 'd'), 4242, 4243);
    // older than the full's second, or the next incremental reads them again (compare.ts, racy files)
    const past = new Date(Date.now() - 3600_000);
    for (const f of ['a.txt', 'd/nameless']) utimesSync(join(s.src, f), past, past);
    assert.equal((await s.backup()).type, 'full');
    for (let i = 0; i < 2; i++) {
      const r = await s.backup();
      assert.equal(r.type, 'inc');
      assert.equal(r.stats.changedFiles, 0, JSON.stringify(r.stats));
      assert.equal(r.stats.otherEntries, 0, JSON.stringify(r.stats));
    }
  },
);

/** `dir`, made first (a file:// sink's directory must exist). */
function mkdirp(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

test('a new host name or a new sink starts a new chain, saying why', { skip: missingTools('openssl') }, async () => {
  const s = await setup();
  const edit = (patch: (c: { host: string; sinks: { name: string; url: string }[] }) => void) => {
    const c = JSON.parse(readFileSync(s.config, 'utf8')) as { host: string; sinks: { name: string; url: string }[] };
    patch(c);
    writeFileSync(s.config, JSON.stringify(c));
  };
  assert.equal((await s.backup()).type, 'full');
  assert.equal((await s.backup()).type, 'inc');
  edit((c) => {
    c.host = 'h2';
    c.sinks[0]!.url = `file://${mkdirp(join(s.tmp, 'sink', 'h2'))}/`;
  });
  const renamed = await s.backup();
  assert.equal(renamed.type, 'full');
  assert.match(renamed.stdout, /host changed from h1 to h2: making a full backup/);
  const out = join(s.tmp, 'restored');
  const r = await runDeaddrop(['restore', '-q', '--from', join(s.tmp, 'sink'), '--host', 'h2', '--key', s.key.plainKeyPath, '--to', out]); // prettier-ignore
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(out, 'a.txt'), 'utf8'), 'a\n');
  assert.equal((await s.backup()).type, 'inc');
  edit((c) => c.sinks.push({ name: 'more', url: `file://${mkdirp(join(s.tmp, 'more', 'h2'))}/` }));
  const added = await s.backup();
  assert.equal(added.type, 'full');
  assert.match(added.stdout, /new sink more \(file:.*\) has no part of the current chain: making a full backup/);
  assert.equal((await s.backup()).type, 'inc');
  edit((c) => c.sinks.pop());
  assert.equal((await s.backup()).type, 'inc', 'a sink left out leaves the chain whole');
});

/** A full, its cached sigtar damaged by `damage`, then the next run (which must be a full). */
async function nextRunWithDamagedSigtar(damage: (path: string) => void) {
  const s = await setup();
  assert.equal((await s.backup()).type, 'full');
  const cache = join(s.archiveDir, 'cache');
  const sigtar = join(
    cache,
    readdirSync(cache).find((n) => n.endsWith('.sigtar.gz'))!,
  );
  damage(sigtar);
  const r = await s.backup();
  assert.equal(r.result, 'ok');
  assert.equal(r.type, 'full');
  return { s, r, sigtar };
}

test(
  'a damaged cached signature file is named and the run makes a full instead of failing',
  { skip: missingTools('openssl') },
  async () => {
    const { s, r, sigtar } = await nextRunWithDamagedSigtar((path) => truncateSync(path, 100));
    assert.ok(r.stdout.includes(`${sigtar}: cannot be read`), r.stdout);
    assert.equal((await s.backup()).type, 'inc');
  },
);

test(
  'a cached signature file swapped for another valid gzip is caught by its recorded SHA-1',
  { skip: missingTools('openssl') },
  async () => {
    // reads through as gzip, so only the hash tells it is not what this client wrote
    const { s, r, sigtar } = await nextRunWithDamagedSigtar((path) =>
      writeFileSync(path, gzipSync(Buffer.alloc(10240))),
    );
    assert.ok(r.stdout.includes(`${sigtar}: cannot be read (its SHA-1 is not the one recorded`), r.stdout);

    // a state written before the hash was recorded: the archive is read through instead
    const statePath = join(s.archiveDir, 'state.json');
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as { chain: { signaturesSha1?: string }[] };
    assert.match(state.chain[0]!.signaturesSha1 ?? '', /^[0-9a-f]{40}$/);
    delete state.chain[0]!.signaturesSha1;
    writeFileSync(statePath, JSON.stringify(state));
    assert.equal((await s.backup()).type, 'inc', 'no hash: a readable archive is used');
  },
);

test(
  'a file stored with an mtime in its set second is read again: a rewrite in that second is not lost',
  { skip: missingTools('openssl') },
  async () => {
    const s = await setup();
    const file = join(s.src, 'racy.conf');
    // the rest of the tree is older than the full's second (else it is racy too)
    const past = new Date(Date.now() - 3600_000);
    utimesSync(join(s.src, 'a.txt'), past, past);
    // written in the second the full reads it: its mtime second is that of the set or later
    // (here 8 s later, so the full is sure to store an mtime at or after its own time: with
    // 2.5 s, a full that started late on a loaded machine took a set time past it)
    writeFileSync(file, 'setting = 1\n');
    const racy = new Date(Date.now() + 8000);
    utimesSync(file, racy, racy);
    const full = await s.backup();
    assert.equal(full.type, 'full');
    assert.ok(Date.parse(full.time) <= racy.getTime(), `the full (${full.time}) began before the racy second`);
    // rewritten in that same second: same size, same mtime second
    writeFileSync(file, 'setting = 2\n');
    utimesSync(file, racy, racy);
    await new Promise((r) => setTimeout(r, Math.max(0, racy.getTime() - Date.now() + 1100)));
    const inc = await s.backup();
    assert.equal(inc.type, 'inc');
    assert.equal(inc.stats.changedFiles, 1, JSON.stringify(inc.stats));
    // stored again, its mtime now before its set: unchanged from here on
    const again = await s.backup();
    assert.equal(again.stats.changedFiles, 0, JSON.stringify(again.stats));

    const out = join(s.tmp, 'out');
    const r = await runDeaddrop(['restore', '-q', '--from', s.sinkHostDir, '--host', 'h1', '--key', s.key.plainKeyPath, '--to', out]); // prettier-ignore
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(out, 'racy.conf'), 'utf8'), 'setting = 2\n');
  },
);
