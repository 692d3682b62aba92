/**
 * A set's time is never one already used: two runs in the same second (the archive dir lost in
 * between) make two sets, and names a sink already holds (a killed run's volumes, a lost
 * archive dir) are skipped for a later second. A reused name would make the sink keep the
 * other run's bytes (same size) or fail on that file at every run (another size).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadClientConfig } from '@deaddrop/common/config/client';
import { Logger } from '@deaddrop/common/log';
import { formatTimestamp } from '@deaddrop/common/units';
import { runBackup } from '@deaddrop/client/backup/run';
import { fullVolumeName, storedName } from '@deaddrop/client/format/names';
import { compareTrees } from '@deaddrop/test/compare-trees';
import { makeTestRecipient, missingTools, runDeaddrop, tempDir, writeLocalClientConfig } from '@deaddrop/test';

async function setup() {
  const tmp = tempDir('deaddrop-set-times-');
  const src = join(tmp, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'a.txt'), 'first run\n');
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const c = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath] });
  const backup = () =>
    runBackup({
      config: loadClientConfig(c.config),
      configFile: c.config,
      mode: 'auto',
      log: new Logger({ level: 'error' }),
    });
  const restore = async () => {
    const out = join(tmp, `restored-${Date.now()}`);
    const r = await runDeaddrop(['restore', '-q', '--from', join(tmp, 'sink'), '--host', 'h1', '--key', key.plainKeyPath, '--to', out]); // prettier-ignore
    assert.equal(r.code, 0, r.stderr);
    return out;
  };
  return { tmp, src, ...c, backup, restore };
}

/** Resolves just after a second begins, so what follows has most of a second to itself. */
async function startOfSecond(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
}

test(
  'two runs in one second (archive dir lost in between) make two sets; the second restores',
  { skip: missingTools('openssl') },
  async () => {
    const s = await setup();
    await startOfSecond();
    const first = await s.backup();
    assert.equal(first.result, 'ok');
    // the run returns only once its set's second is over: the next run cannot reuse its time
    assert.ok(Date.now() >= Date.parse(first.time) + 1000, `${first.time} ended at ${new Date().toISOString()}`);
    rmSync(s.archiveDir, { recursive: true });
    writeFileSync(join(s.src, 'a.txt'), 'secondrun\n'); // the same size: a reused name would pass as delivered
    const second = await s.backup();
    assert.equal(second.result, 'ok');
    assert.notEqual(second.set, first.set);
    const sums = readdirSync(s.sinkHostDir).filter((n) => n.endsWith('.sha256sums'));
    assert.equal(sums.length, 2, sums.join(' '));
    const out = await s.restore();
    assert.deepEqual(compareTrees(s.src, out, { skipRoot: true }), []);
  },
);

test(
  'names a sink already holds are not reused: the run takes a later second',
  { skip: missingTools('openssl') },
  async () => {
    const s = await setup();
    await startOfSecond();
    // a killed run's volumes (another run's bytes) under the names of this second and the next two
    const now = Math.floor(Date.now() / 1000);
    mkdirSync(s.sinkHostDir, { recursive: true });
    const planted = [0, 1, 2].map((d) => storedName(fullVolumeName(now + d, 1), { gzip: true, cms: true }));
    for (const n of planted) writeFileSync(join(s.sinkHostDir, n), 'not this run\n');
    const r = await s.backup();
    assert.equal(r.result, 'ok', JSON.stringify(r.delivery));
    assert.ok(Date.parse(r.time) / 1000 >= now + 3, `${r.time} is after the planted ${formatTimestamp(now + 2)}`);
    for (const n of planted) assert.equal(readFileSync(join(s.sinkHostDir, n), 'utf8'), 'not this run\n');
    rmSync(join(s.sinkHostDir, planted[0]!)); // restore would take them for a broken set
    rmSync(join(s.sinkHostDir, planted[1]!));
    rmSync(join(s.sinkHostDir, planted[2]!));
    const out = await s.restore();
    assert.deepEqual(compareTrees(s.src, out, { skipRoot: true }), []);
  },
);

test(
  'a spooled set whose name another file holds on a sink is not retried there every run',
  { skip: missingTools('openssl') },
  async () => {
    const s = await setup();
    const other = join(s.tmp, 'other', 'h1');
    const config = JSON.parse(readFileSync(s.config, 'utf8')) as { sinks: { name: string; url: string }[] };
    config.sinks.push({ name: 'other', url: `file://${other}/` });
    writeFileSync(s.config, JSON.stringify(config));
    mkdirSync(join(s.tmp, 'other'));
    writeFileSync(other, 'not a directory\n'); // the sink is unusable for the first run
    const first = await s.backup();
    assert.equal(first.result, 'degraded');
    // meanwhile a file under the first set's name (another run's bytes) appears on that sink
    rmSync(other);
    mkdirSync(other);
    const vol1 = first.files[0]!.name;
    writeFileSync(join(other, vol1), 'another run\n');
    writeFileSync(join(s.src, 'b.txt'), 'more\n');
    const second = await s.backup();
    assert.equal(second.result, 'degraded');
    assert.match(second.delivery!.other!.error ?? '', new RegExp(`${first.set}: ${vol1} already exists`));
    // the later incremental of that chain is not sent there either: without its full it could
    // not be restored there (54a4ade); the sink lags on both until a full reaches it
    assert.deepEqual(second.delivery!.other!.confirmed, [], 'no incremental on top of a missing full');
    assert.deepEqual(second.delivery!.other!.lagging, [first.set, second.set]);
    assert.deepEqual(readdirSync(join(s.archiveDir, 'outgoing')), [], 'no sink waits for the first set any more');
    const third = await s.backup();
    assert.equal(third.result, 'degraded', 'the sink lags until a full reaches it');
    assert.equal(third.delivery!.other!.ok, true, JSON.stringify(third.delivery));
    assert.deepEqual(third.delivery!.other!.lagging, [first.set, second.set, third.set]);
    assert.equal(readFileSync(join(other, vol1), 'utf8'), 'another run\n');
  },
);
