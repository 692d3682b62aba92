/**
 * `deaddrop backup` / `status` from the outside: configuration errors (exit 2 naming the
 * field), the lock (exit 3; a dead owner's lock is taken over), unreadable files when run as
 * an unprivileged user (listed, run succeeds), a killed run (the next run is consistent and
 * restorable), --dry-run, and status.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  deaddropArgv,
  isRoot,
  makeTestRecipient,
  missingTools,
  runCommand,
  runDeaddrop,
  seededBytes,
  tempDir,
  writeLocalClientConfig,
} from '@deaddrop/test';

interface Setup {
  tmp: string;
  src: string;
  sink: string;
  archive: string;
  config: string;
  cert: string;
  plainKey: string;
}

async function setup(extra: Record<string, unknown> = {}): Promise<Setup> {
  const tmp = tempDir('deaddrop-backup-cli-');
  const src = join(tmp, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'hello\n');
  writeFileSync(join(src, 'd', 'b.bin'), seededBytes('b', 100_000));
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const sink = join(tmp, 'sink');
  const { config, archiveDir: archive } = writeLocalClientConfig(tmp, {
    sources: [src],
    recipients: [key.certPath],
    sinkRoot: sink,
    extra,
  });
  return { tmp, src, sink, archive, config, cert: key.certPath, plainKey: key.plainKeyPath };
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, any>;

test('bad configuration: exit 2 with one line naming the file and the field', async () => {
  const s = await setup();
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ volumeSize: 'lots' }, /client\.json: volumeSize: "lots" is not a size/],
    [{ volumeSize: '1KB' }, /client\.json: volumeSize: 1000 bytes is too small \(at least 64KiB\)/],
    [{ archiveDir: 'archive' }, /client\.json: archiveDir: must be an absolute path/],
    [{ colour: 'blue' }, /client\.json: colour: unknown field/],
    [{ sources: ['relative/dir'] }, /client\.json: sources\[0\]: must be an absolute path/],
    [{ sources: [join(s.tmp, 'nope')] }, /client\.json: sources\[0\]: .*nope: no such directory/],
    [{ recipients: [join(s.tmp, 'missing.pem')] }, /client\.json: recipients: .*missing\.pem/],
    [{ sinks: [{ name: 'x', url: 'ftp://host/' }] }, /client\.json: sinks\[0\]\.url: must be an http/],
    // everything is keyed by sink name (ledgers, delivery): a second "a" would silently never get anything
    [
      {
        sinks: [
          { name: 'a', url: `file://${s.sink}/h1/` },
          { name: 'a', url: 'http://127.0.0.1:9/webdav/h1/' },
        ],
      },
      /client\.json: sinks\[1\]\.name: "a" is already the name of sinks\[0\]/,
    ],
    [
      {
        sinks: [
          { name: 'a', url: 'http://127.0.0.1:9/webdav/h1/' },
          { name: 'b', url: 'http://127.0.0.1:9/webdav/h1' },
        ],
      },
      /client\.json: sinks\[1\]\.url: the same sink as sinks\[0\]\.url/,
    ],
  ];
  const base = {
    host: 'h1',
    sources: [s.src],
    recipients: [s.cert],
    sinks: [{ name: 'local', url: `file://${s.sink}/h1/` }],
    archiveDir: s.archive,
  };
  for (const [patch, message] of cases) {
    const file = join(s.tmp, 'client.json');
    writeFileSync(file, JSON.stringify({ ...base, ...patch }));
    const r = await runDeaddrop(['backup', '--config', file]);
    assert.equal(r.code, 2, `${JSON.stringify(patch)}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const missing = await runDeaddrop(['backup', '--config', join(s.tmp, 'none.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /none\.json: no such file/);
  const both = await runDeaddrop(['backup', '--config', s.config, '--full', '--incremental']);
  assert.equal(both.code, 2);
  assert.deepEqual(readdirSync(join(s.sink, 'h1')), [], 'nothing was written');
});

test('--help documents the options; status before any run says the next is full', async () => {
  const s = await setup();
  const help = await runDeaddrop(['backup', '--help']);
  assert.equal(help.code, 0);
  for (const opt of ['--full', '--incremental', '--config', '--dry-run', '--volume-size', '--json'])
    assert.ok(help.stdout.includes(opt), opt);
  const st = await runDeaddrop(['status', '--config', s.config]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /chain: none/);
});

test('the lock: a live holder means exit 3, a dead one is taken over', async () => {
  const s = await setup();
  mkdirSync(s.archive, { recursive: true });
  const holder = spawn('sleep', ['60']);
  try {
    writeFileSync(join(s.archive, 'lock'), `${holder.pid}\n`);
    const r = await runDeaddrop(['backup', '--config', s.config]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`pid ${holder.pid}`));
  } finally {
    holder.kill();
  }
  await new Promise((r) => holder.once('exit', r));
  // the holder is gone: its lock is stale
  const r = await runDeaddrop(['backup', '--config', s.config, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lastJson(r.stdout).result, 'ok');
  assert.equal(existsSync(join(s.archive, 'lock')), false, 'released after the run');
});

test('--dry-run counts what would go into the set and writes nothing', async () => {
  const s = await setup();
  const r = await runDeaddrop(['backup', '--config', s.config, '--dry-run', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = lastJson(r.stdout);
  assert.equal(j.result, 'dry-run');
  assert.equal(j.type, 'full');
  assert.deepEqual(j.stats, { new: 4, changed: 0, deleted: 0 }); // root, a.txt, d/, d/b.bin
  assert.deepEqual(readdirSync(join(s.sink, 'h1')), []);
  assert.equal(existsSync(s.archive), false, 'no archive directory made');
  const full = await runDeaddrop(['backup', '--config', s.config, '--json']);
  assert.equal(full.code, 0, full.stderr);
  writeFileSync(join(s.src, 'c.txt'), 'new\n');
  const dry = await runDeaddrop(['backup', '--config', s.config, '--dry-run', '--json']);
  const d = lastJson(dry.stdout);
  assert.equal(d.type, 'inc');
  assert.equal(d.stats.new, 1);
  assert.equal(readdirSync(join(s.sink, 'h1')).length, 4, 'only the full set is on the sink');
  const st = await runDeaddrop(['status', '--config', s.config, '--json']);
  const status = JSON.parse(st.stdout) as { chain: { type: string; cached: boolean }[]; lastRuns: unknown[] };
  assert.deepEqual(
    status.chain.map((c) => [c.type, c.cached]),
    [['full', true]],
  );
  // the chain's Localdir: the backup root, the common ancestor of the sources
  const text = await runDeaddrop(['status', '--config', s.config]);
  assert.match(text.stdout.split('\n')[0]!, new RegExp(`^host h1, archive .*, backup root ${s.src}$`));
});

test(
  'unreadable files and directories (run as nobody) are listed and skipped; the run succeeds',
  { skip: !isRoot ? 'needs root to switch to nobody' : missingTools('runuser') },
  async () => {
    const s = await setup();
    // everything readable by nobody except the two objects under test
    writeFileSync(join(s.src, 'secret.txt'), 'root only\n');
    chmodSync(join(s.src, 'secret.txt'), 0o600);
    mkdirSync(join(s.src, 'private'));
    writeFileSync(join(s.src, 'private', 'x'), 'x');
    chmodSync(join(s.src, 'private'), 0o700);
    for (const p of [s.tmp, join(s.tmp, 'keys')]) chmodSync(p, 0o755);
    chmodSync(s.cert, 0o644);
    mkdirSync(s.archive);
    chownSync(s.archive, 65534, 65534);
    chownSync(join(s.sink, 'h1'), 65534, 65534);
    const [node, ...args] = deaddropArgv();
    const r = await runCommand(
      'runuser',
      ['-u', 'nobody', '--', node!, ...args, 'backup', '--config', s.config, '--json'],
      {
        env: { ...process.env, HOME: s.tmp, TSX_TSCONFIG_PATH: '' },
      },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const j = lastJson(r.stdout);
    assert.equal(j.result, 'ok');
    const listed = (j.problems as { kind: string; path: string }[]).map((p) => `${p.kind} ${p.path}`).sort();
    assert.deepEqual(listed, [`unreadable ${join(s.src, 'private')}`, `unreadable ${join(s.src, 'secret.txt')}`]);
    // warning lines were emitted as JSON events too
    const events = r.stdout
      .trim()
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as { level: string; path?: string });
    assert.ok(events.some((e) => e.level === 'warn' && e.path === join(s.src, 'secret.txt')));
    assert.equal(readdirSync(join(s.sink, 'h1')).filter((n) => n.endsWith('.sha256sums')).length, 1);
  },
);

test(
  'a run killed mid-set leaves no recorded set; the next run writes a complete, restorable one',
  { skip: missingTools('openssl', 'duplicity'), timeout: 120_000 },
  async () => {
    const s = await setup({ volumeSize: '1MiB' });
    for (let i = 0; i < 12; i++) writeFileSync(join(s.src, `r${i}.bin`), seededBytes(`r${i}`, 1_000_000));
    const [node, ...args] = deaddropArgv();
    const child = spawn(node!, [...args, 'backup', '--config', s.config], { stdio: 'ignore' });
    const outgoing = join(s.archive, 'outgoing');
    // kill it once the first volume is on disk, well before the set is finished
    for (let i = 0; i < 2000; i++) {
      const sets = existsSync(outgoing) ? readdirSync(outgoing) : [];
      if (sets.length && readdirSync(join(outgoing, sets[0]!)).some((n) => n.includes('.vol1.'))) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(!existsSync(join(s.sink, 'h1')) || readdirSync(join(s.sink, 'h1')).every((n) => !n.endsWith('sums')));
    assert.equal(existsSync(join(s.archive, 'state.json')), false, 'killed before the set was recorded');
    assert.equal(readdirSync(outgoing).length, 1, 'it left a partial set behind');

    const r = await runDeaddrop(['backup', '--config', s.config, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = lastJson(r.stdout);
    assert.equal(j.type, 'full', 'no set was recorded, so a new chain starts');
    assert.deepEqual(readdirSync(outgoing), [], 'leftovers of the killed run are gone');
    const stored = readdirSync(join(s.sink, 'h1'));
    assert.equal(stored.filter((n) => n.endsWith('.sha256sums')).length, 1);
    // the complete set restores with duplicity
    const dec = join(s.tmp, 'dec');
    mkdirSync(dec);
    for (const n of stored.filter((n) => n.startsWith(`duplicity-`) && n.includes(j.time.replace(/[-:]/g, '')))) {
      const d = spawnSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-inkey', s.plainKey, '-in', join(s.sink, 'h1', n), '-out', join(dec, n.slice(0, -4))]); // prettier-ignore
      assert.equal(d.status, 0, d.stderr.toString());
    }
    const out = join(s.tmp, 'restored');
    const restore = await runCommand(
      'duplicity',
      ['restore', '--no-encryption', '--archive-dir', join(s.tmp, 'dc'), `file://${dec}`, out],
      {
        env: { ...process.env, HOME: s.tmp },
      },
    );
    assert.equal(restore.code, 0, restore.stdout + restore.stderr);
    const diff = spawnSync('diff', ['-r', s.src, out]);
    assert.equal(diff.status, 0, diff.stdout.toString());
  },
);

test('a damaged or unreadable state.json: status says so (exit 1), backup warns and starts a new chain', async () => {
  const s = await setup();
  const first = await runDeaddrop(['backup', '--config', s.config]);
  assert.equal(first.code, 0, first.stderr);
  writeFileSync(join(s.src, 'a.txt'), 'changed\n');
  const second = await runDeaddrop(['backup', '--config', s.config]);
  assert.equal(second.code, 0, second.stderr);
  const file = join(s.archive, 'state.json');
  const good = readFileSync(file, 'utf8');
  const parsed = JSON.parse(good) as { chain: Record<string, unknown>[] };
  const damaged: [string, string, RegExp][] = [
    ['truncated', good.slice(0, 200), /not valid JSON/],
    [
      'a set without its fields',
      JSON.stringify({ ...parsed, chain: [parsed.chain[0], { type: 'inc' }] }),
      /chain\[1\]\.time/,
    ],
    ['runs not a list', '{"version":1,"chain":[],"runs":{}}', /state\.json: /],
    [
      'a cache name with a slash',
      JSON.stringify({ ...parsed, chain: [{ ...parsed.chain[0], manifest: '../x' }] }),
      /chain\[0\]\.manifest/,
    ],
  ];
  for (const [what, text, problem] of damaged) {
    writeFileSync(file, text);
    const st = await runDeaddrop(['status', '--config', s.config]);
    assert.equal(st.code, 1, `${what}: ${st.stderr}`);
    assert.match(st.stdout, new RegExp(`state: ${file.replace(/[.]/g, '\\.')}: damaged`), what);
    assert.match(st.stdout, problem, what);
    assert.doesNotMatch(st.stdout, /chain: none/, what);
    const j = await runDeaddrop(['status', '--config', s.config, '--json']);
    assert.equal(j.code, 1, what);
    assert.equal((JSON.parse(j.stdout) as { state: string }).state, 'damaged', what);
  }
  // unreadable (a directory in its place: EISDIR even for root)
  rmSync(file);
  mkdirSync(file);
  const st = await runDeaddrop(['status', '--config', s.config, '--json']);
  assert.equal(st.code, 1, st.stderr);
  const report = JSON.parse(st.stdout) as { state: string; stateProblem: string };
  assert.equal(report.state, 'unreadable');
  assert.match(report.stateProblem, /state\.json: cannot be read/);
  rmSync(file, { recursive: true });

  // backup: one warning naming the file, then a full (a new chain)
  writeFileSync(file, JSON.stringify({ ...parsed, chain: [parsed.chain[0], { type: 'inc' }] }));
  const r = await runDeaddrop(['backup', '--config', s.config, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lastJson(r.stdout).type, 'full');
  const warnings = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { level?: string; message?: string })
    .filter((e) => e.level === 'warn');
  assert.ok(
    warnings.some((w) => w.message!.includes(`${file}: damaged`) && /new chain/.test(w.message!)),
    JSON.stringify(warnings),
  );
  const after = await runDeaddrop(['status', '--config', s.config]);
  assert.equal(after.code, 0, after.stderr);
  assert.match(after.stdout, /chain: 1 set/);
});

test('status lists the sinks of client.json: a new one has nothing yet, a removed one is left out', async () => {
  const s = await setup();
  const r = await runDeaddrop(['backup', '--config', s.config]);
  assert.equal(r.code, 0, r.stderr);
  const config = JSON.parse(readFileSync(s.config, 'utf8')) as { sinks: { name: string; url: string }[] };
  mkdirSync(join(s.tmp, 'other', 'h1'), { recursive: true });
  writeFileSync(s.config, JSON.stringify({ ...config, sinks: [{ name: 'other', url: `file://${s.tmp}/other/h1/` }] }));
  const st = await runDeaddrop(['status', '--config', s.config]);
  assert.equal(st.code, 0, st.stderr);
  const sinkLines = st.stdout.split('\n').filter((l) => l.startsWith('sink '));
  assert.deepEqual(sinkLines, ['sink other: nothing delivered yet']);
  const j = await runDeaddrop(['status', '--config', s.config, '--json']);
  const report = JSON.parse(j.stdout) as { sinks: { name: string; confirmed: number }[] };
  assert.deepEqual(
    report.sinks.map((k) => [k.name, k.confirmed]),
    [['other', 0]],
  );
});
