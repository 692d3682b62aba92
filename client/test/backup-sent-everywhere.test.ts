/**
 * What every sink took leaves the spool (backup/sent-everywhere.ts): written down first, then
 * unlinked; never while a sink of the host does not take part. The set writer is paced by the
 * fastest sink, so a hung one holds back only itself. A spooled set whose files partly left
 * is still whole to its sums file, and a sink that lost such a file afterwards has the set
 * dropped (it can never get it), not retried at every run.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { Logger } from '@deaddrop/common/log';
import { sha256File } from '@deaddrop/common/hash';
import { deliverSets, readOutgoingSet, spoolDamage } from '@deaddrop/client/backup/deliver';
import { EarlyUpload, MAX_AHEAD } from '@deaddrop/client/backup/early-upload';
import { SENT_EVERYWHERE } from '@deaddrop/client/backup/sent-everywhere';
import { formatSums } from '@deaddrop/client/format/sums';
import { FileTarget, type SinkTargetLike } from '@deaddrop/client/transport/file-target';
import { seededBytes, tempDir } from '@deaddrop/test';

/** A sink whose puts each wait for a `next()` (given before or after), or fail once `fail()` is called. */
function gatedSink(name: string): SinkTargetLike & { got: string[]; next: () => void; fail: (e: Error) => void } {
  const got: string[] = [];
  const waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  let credits = 0;
  let failed: Error | undefined;
  return {
    name,
    got,
    list: async () => new Map<string, number>(),
    async put(remote: string, body: () => Readable) {
      if (failed) throw failed;
      if (credits > 0) credits--;
      else await new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }));
      await buffer(body());
      got.push(remote);
      return 'created' as const;
    },
    next: () => {
      const w = waiting.shift();
      if (w) w.resolve();
      else credits++;
    },
    fail: (e: Error) => {
      failed = e;
      for (const w of waiting.splice(0)) w.reject(e);
    },
  };
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!ok()) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function volumes(dir: string, n: number) {
  return Array.from({ length: n }, (_, i) => {
    const name = `duplicity-full.20261126T000000Z.vol${i + 1}.difftar.gz.p7m`;
    const data = seededBytes(name, 100_000 + i);
    writeFileSync(join(dir, name), data);
    return { name, size: data.length };
  });
}

const flush = () => new Promise((r) => setImmediate(r));

test('a volume every sink took leaves the spool, written down first; with a sink not taking part it stays', async () => {
  for (const everySink of [true, false]) {
    const dir = tempDir('deaddrop-sent-everywhere-');
    const files = volumes(dir, 2);
    const [a, b] = [gatedSink('a'), gatedSink('b')];
    const ahead = new EarlyUpload([a, b], undefined, everySink ? { spoolLimit: 1e9 } : undefined);
    for (const f of files) ahead.add(join(dir, f.name), f.name, f.size);
    a.next();
    await until('a has the first volume', () => a.got.length === 1);
    await flush();
    assert.ok(existsSync(join(dir, files[0]!.name)), 'one sink is not every sink');
    b.next();
    await until('b has the first volume', () => b.got.length === 1);
    a.next();
    b.next();
    await ahead.settled();
    const record = join(dir, SENT_EVERYWHERE);
    if (everySink) {
      for (const f of files) assert.equal(existsSync(join(dir, f.name)), false, `${f.name} left the spool`);
      assert.equal(readFileSync(record, 'latin1'), files.map((f) => `${f.size} ${f.name}\n`).join(''));
    } else {
      for (const f of files) assert.ok(existsSync(join(dir, f.name)), `${f.name} stays for a sink not taking part`);
      assert.equal(existsSync(record), false);
    }
  }
});

test('the writer waits while the fastest sink has MAX_AHEAD volumes to take; a hung sink holds back only itself', async () => {
  const dir = tempDir('deaddrop-sent-pace-');
  const files = volumes(dir, MAX_AHEAD + 1);
  const [fast, hung] = [gatedSink('fast'), gatedSink('hung')];
  const ahead = new EarlyUpload([fast, hung], undefined, { spoolLimit: 1e9 });
  for (const f of files.slice(0, MAX_AHEAD)) ahead.add(join(dir, f.name), f.name, f.size);
  let roomy = false;
  const room = ahead.room().then(() => (roomy = true));
  await flush();
  assert.equal(roomy, false, 'both sinks have MAX_AHEAD volumes to take: the writer waits');
  fast.next();
  await until('the fast sink took a volume', () => fast.got.length === 1);
  await room; // the hung sink still holds every volume it was given
  assert.equal(hung.got.length, 0);
  assert.ok(existsSync(join(dir, files[0]!.name)), 'the hung sink lacks it: it stays');
  hung.fail(new Error('no progress for 120 s'));
  for (let i = 1; i < MAX_AHEAD; i++) fast.next();
  await ahead.settled();
  assert.ok(existsSync(join(dir, files[0]!.name)), 'what the failed sink lacks stays spooled');
  await ahead.room(); // a failed sink has nothing left to take: no wait
});

test('what a failed sink lacks stays spooled until the set outgrows the spool limit; then the set is given up for it', async () => {
  const dir = tempDir('deaddrop-sent-limit-');
  const files = volumes(dir, 3); // 100,000 to 100,002 bytes each
  const [up, down] = [gatedSink('up'), gatedSink('down')];
  down.fail(new Error('connection refused'));
  const ahead = new EarlyUpload([up, down], undefined, { spoolLimit: 250_000 });
  const gone = () => files.filter((f) => !existsSync(join(dir, f.name))).map((f) => f.name);
  for (const f of files.slice(0, 2)) {
    ahead.add(join(dir, f.name), f.name, f.size);
    up.next();
  }
  await until('up took two volumes', () => up.got.length === 2);
  await flush();
  assert.deepEqual(gone(), [], 'within the limit: kept for the failed sink');
  assert.deepEqual([...ahead.givenUp], []);
  ahead.add(join(dir, files[2]!.name), files[2]!.name, files[2]!.size); // 300,003 bytes > 250,000
  up.next();
  await ahead.settled();
  assert.deepEqual(
    gone(),
    files.map((f) => f.name),
    'past the limit: what the sink still up took leaves',
  );
  assert.deepEqual([...ahead.givenUp], ['down']);
  assert.equal(readFileSync(join(dir, SENT_EVERYWHERE), 'latin1'), files.map((f) => `${f.size} ${f.name}\n`).join(''));

  // with no sink up nothing leaves, whatever the size
  const dir2 = tempDir('deaddrop-sent-none-up-');
  const [f] = volumes(dir2, 1);
  const dead = [gatedSink('x'), gatedSink('y')];
  for (const s of dead) s.fail(new Error('down'));
  const none = new EarlyUpload(dead, undefined, { spoolLimit: 1 });
  none.add(join(dir2, f!.name), f!.name, f!.size);
  await none.settled();
  assert.ok(existsSync(join(dir2, f!.name)));
  await none.room(); // no sink up: the writer does not wait
});

/**
 * A spooled full set OUTGOING/KEY of two volumes and a manifest, its sums file, and the first
 * volume gone from the spool as every sink took it (`taken` sees it first).
 */
async function spooledSet(outgoing: string, key: string, taken: (path: string, name: string) => void = () => {}) {
  const t = key.slice('full.'.length);
  const dir = join(outgoing, key);
  mkdirSync(dir, { recursive: true });
  const names = [`duplicity-full.${t}.vol1.difftar.gz.p7m`, `duplicity-full.${t}.vol2.difftar.gz.p7m`, `duplicity-full.${t}.manifest.p7m`]; // prettier-ignore
  for (const n of names) writeFileSync(join(dir, n), seededBytes(`${key}/${n}`, 50_000));
  const sums = `deaddrop-full.${t}.sha256sums`;
  writeFileSync(join(dir, sums), formatSums(await Promise.all(names.map(async (name) => ({ name, sha256: await sha256File(join(dir, name)) })))),); // prettier-ignore
  taken(join(dir, names[0]!), names[0]!);
  writeFileSync(join(dir, SENT_EVERYWHERE), `50000 ${names[0]}\n`);
  rmSync(join(dir, names[0]!));
  return { dir, names, sums };
}

test('a set partly gone from the spool is whole to its sums file; gone without the record is damage', async () => {
  const outgoing = tempDir('deaddrop-sent-spool-');
  const key = 'full.20261126T000000Z';
  const s = await spooledSet(outgoing, key);
  const set = (await readOutgoingSet(outgoing, key))!;
  assert.deepEqual(
    set.files.map((f) => [f.name, f.size, f.inSpool]),
    [
      [s.names[0], 50_000, false],
      [s.names[1], 50_000, true],
      [s.names[2], 50_000, true],
      [s.sums, readFileSync(join(s.dir, s.sums)).length, true],
    ],
  );
  assert.equal(await spoolDamage(set), undefined);

  writeFileSync(join(s.dir, s.names[1]!), 'short');
  assert.match((await spoolDamage((await readOutgoingSet(outgoing, key))!)) ?? '', /vol2.* does not match/);
  rmSync(join(s.dir, SENT_EVERYWHERE));
  assert.match((await spoolDamage((await readOutgoingSet(outgoing, key))!)) ?? '', /lists 3 files, the spool holds 2/);
});

test('a sink that lost a file which then left the spool has that set dropped, and takes the next', async () => {
  const tmp = tempDir('deaddrop-sent-lost-');
  const outgoing = join(tmp, 'outgoing');
  const keys = ['full.20261126T000000Z', 'full.20261126T010000Z'];
  const sinkDir = join(tmp, 'sink');
  mkdirSync(sinkDir);
  // the sink took each set's first volume (and so did every other sink): it left the spool
  for (const key of keys)
    await spooledSet(outgoing, key, (path, name) => writeFileSync(join(sinkDir, name), readFileSync(path)));
  rmSync(join(sinkDir, `duplicity-full.20261126T000000Z.vol1.difftar.gz.p7m`)); // lost on the sink since
  const sets = await Promise.all(keys.map(async (k) => (await readOutgoingSet(outgoing, k))!));
  const ledger = { version: 1 as const, sink: 'a', confirmed: [] as string[], dropped: [] as string[] };
  const errors: string[] = [];
  const log = new Logger({ level: 'error' });
  log.error = (msg: string) => void errors.push(msg);
  const deliver = (only: typeof sets) =>
    deliverSets({ sets: only, targets: [new FileTarget('a', `file://${sinkDir}/`)], ledgers: new Map([['a', ledger]]), log }); // prettier-ignore
  const r = await deliver(sets.slice(0, 1));
  assert.deepEqual(ledger.dropped, [keys[0]]);
  assert.deepEqual(r.a!.confirmed, []);
  assert.equal(r.a!.ok, false);
  assert.match(r.a!.error ?? '', /vol1.* is no longer there/);
  assert.match(errors.join('\n'), /sink a no longer lists duplicity-full\.20261126T000000Z\.vol1.*can never go there/);
  // the next run: the dropped set is not tried again, the newer full goes
  const next = await deliver(sets);
  assert.equal(next.a!.ok, true, next.a!.error);
  assert.deepEqual(next.a!.confirmed, [keys[1]]);
  assert.equal(errors.length, 1);
});
