/**
 * `deaddrop backup --dry-run` changes nothing on disk: the leftovers of a killed run (files in
 * work/, a set directory in outgoing/ that no state names) stay, byte for byte, and so does a
 * damaged state.json with the sets it would take back; the output says what a real run would
 * clean and keep. The real run after it still cleans them.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { loadClientConfig } from '@deaddrop/common/config/client';
import { Logger } from '@deaddrop/common/log';
import { runBackup } from '@deaddrop/client/backup/run';
import {
  makeTestRecipient,
  missingTools,
  runDeaddrop,
  seededBytes,
  tempDir,
  writeLocalClientConfig,
} from '@deaddrop/test';
import { captureStream } from './capture.js';

async function host() {
  const tmp = tempDir('deaddrop-dry-run-leftovers-');
  const src = join(tmp, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'a.bin'), seededBytes('a', 100_000));
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const c = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath] });
  const run = async (dryRun: boolean) => {
    const logs = captureStream(false);
    const log = new Logger({ level: 'info', stream: logs.stream });
    const r = await runBackup({ config: loadClientConfig(c.config), configFile: c.config, mode: 'auto', dryRun, log });
    return { ...r, logs: logs.text() };
  };
  const outgoing = join(c.archiveDir, 'outgoing');
  const work = join(c.archiveDir, 'work');
  return { tmp, src, ...c, outgoing, work, run };
}

/** Every file and directory under `dir`: its path, mode and (a file) the SHA-256 of its bytes. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      const mode = st.mode.toString(8);
      if (st.isDirectory()) {
        out.push(`${relative(dir, p)}/ ${mode}`);
        walk(p);
      } else out.push(`${relative(dir, p)} ${mode} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return out;
}

/** What a run killed while it wrote a set leaves: a half-written volume in work/, a set without its sums file. */
function killedRunLeftovers(h: Awaited<ReturnType<typeof host>>, key: string) {
  const workFile = join(h.work, 'duplicity-vol1.difftar.gz');
  writeFileSync(workFile, seededBytes('half a volume', 30_000));
  mkdirSync(join(h.work, 'sigtar'));
  writeFileSync(join(h.work, 'sigtar', 'part'), seededBytes('part', 1000));
  const setDir = join(h.outgoing, key);
  mkdirSync(setDir);
  writeFileSync(join(setDir, 'duplicity-full.vol1.difftar.gz.p7m'), seededBytes('vol1', 20_000));
  return { workFile, workDir: join(h.work, 'sigtar'), setDir };
}

test(
  '--dry-run leaves a killed run’s leftovers alone and says what a real run would clean',
  { skip: missingTools('openssl') },
  async () => {
    const h = await host();
    assert.equal((await h.run(false)).result, 'ok');
    const left = killedRunLeftovers(h, 'full.20200101T000000Z');
    const before = snapshot(h.archiveDir);

    const dry = await h.run(true);
    assert.equal(dry.result, 'dry-run');
    assert.deepEqual(snapshot(h.archiveDir), before, 'a dry run changes nothing in the archive dir');
    for (const p of [left.workFile, left.workDir, left.setDir])
      assert.ok(dry.logs.includes(`would remove ${p}`), `names ${p}: ${dry.logs}`);

    const real = await h.run(false);
    assert.equal(real.result, 'ok', real.logs);
    assert.deepEqual(readdirSync(h.work), [], 'the real run empties work/');
    assert.equal(existsSync(left.setDir), false, 'and removes the unrecorded set');
  },
);

test(
  '--dry-run with a damaged state.json keeps it and the spool as they are, and says what a real run would keep',
  { skip: missingTools('openssl') },
  async () => {
    const h = await host();
    const away = `${h.sinkHostDir}.away`;
    renameSync(h.sinkHostDir, away); // the only sink is away: the full waits in the spool
    const f1 = await h.run(false);
    assert.deepEqual(readdirSync(h.outgoing), [f1.set]);
    const left = killedRunLeftovers(h, 'inc.20200101T000000Z.to.20200102T000000Z');
    writeFileSync(join(h.archiveDir, 'state.json'), '{"version": 1, "host": '); // a torn write
    const before = snapshot(h.archiveDir);

    const dry = await h.run(true);
    assert.equal(dry.result, 'dry-run');
    assert.deepEqual(snapshot(h.archiveDir), before, 'a dry run changes nothing in the archive dir');
    assert.doesNotMatch(dry.logs, /kept the/, 'it kept nothing: it did nothing');
    assert.match(dry.logs, new RegExp(`would keep the 1 sets? waiting in .*${f1.set!.replace(/\./g, '\\.')}`));
    assert.ok(dry.logs.includes(`would remove ${left.setDir}`), dry.logs);

    const real = await h.run(false);
    assert.match(real.logs, /kept the 1 sets/);
    assert.ok(existsSync(join(h.outgoing, f1.set!)), 'the spooled full is kept');
    assert.equal(existsSync(left.setDir), false, 'the set without sums goes');
    assert.deepEqual(readdirSync(h.work), []);
  },
);

test(
  'deaddrop backup --dry-run with a damaged state says what a real run would do, not what it did',
  { skip: missingTools('openssl') },
  async () => {
    const h = await host();
    assert.equal((await h.run(false)).result, 'ok');
    const left = killedRunLeftovers(h, 'full.20200101T000000Z');
    writeFileSync(join(h.archiveDir, 'state.json'), '{"version": 1, "host": ');
    const before = snapshot(h.archiveDir);

    const r = await runDeaddrop(['backup', '--config', h.config, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^dry run: full of /);
    assert.deepEqual(snapshot(h.archiveDir), before);
    assert.match(r.stderr, /state\.json: damaged: .*: a real run would start a new chain/);
    assert.doesNotMatch(r.stderr, /starting a new chain|kept the/, r.stderr);
    for (const p of [left.workFile, left.setDir]) assert.ok(r.stderr.includes(`would remove ${p}`), r.stderr);
  },
);

test(
  '--dry-run says a real run would make a full backup, where a real run says it is making one',
  { skip: missingTools('openssl') },
  async () => {
    const h = await host();
    assert.equal((await h.run(false)).result, 'ok');
    const cache = join(h.archiveDir, 'cache');
    const sigs = readdirSync(cache).filter((n) => n.includes('.sigtar'));
    assert.equal(sigs.length, 1, `one signature file in ${cache}: ${sigs.join(' ')}`);
    writeFileSync(join(cache, sigs[0]!), 'not the signatures the state names');
    const before = snapshot(h.archiveDir);

    const dry = await h.run(true);
    assert.equal(dry.result, 'dry-run');
    assert.match(dry.logs, /cannot be read \(.*\): a real run would make a full backup/);
    assert.doesNotMatch(dry.logs, /making a full backup/);
    assert.deepEqual(snapshot(h.archiveDir), before);

    const real = await h.run(false);
    assert.match(real.logs, /cannot be read \(.*\): making a full backup/);
    assert.equal(real.result, 'ok', real.logs);
  },
);
