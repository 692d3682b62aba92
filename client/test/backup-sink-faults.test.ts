/**
 * A whole backup against one healthy sink and one faulty one: the faulty sink is down for the
 * run and the other gets the set (degraded, exit 4), in bounded time. A spooled set that
 * vanished from the spool before the lagging sink had it is recorded as dropped for it. A PUT
 * the sink published but whose answer was lost counts as uploaded. A file:// sink whose
 * directory is missing (not mounted) is down, and is never created on the local disk.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadClientConfig } from '@deaddrop/common/config/client';
import { Logger } from '@deaddrop/common/log';
import { deliverSets, readOutgoingSet } from '@deaddrop/client/backup/deliver';
import { runBackup } from '@deaddrop/client/backup/run';
import { WebDavTarget } from '@deaddrop/client/transport/webdav-target';
import { compareTrees } from '@deaddrop/test/compare-trees';
import {
  blackholeSink,
  missingTools,
  runDeaddrop,
  seededBytes,
  startEmbeddedSink,
  startSinkProxy,
  tempDir,
} from '@deaddrop/test';
import { creds, FAST, oneFileHost } from './fault-rig.js';

const localHost = (prefix: string, content: string) => oneFileHost(prefix, 'a.txt', content);

test(
  'a sink that takes connections and never answers: the backup ends degraded, the other sink has the set',
  { skip: missingTools('openssl'), timeout: 60_000 },
  async () => {
    const c = await oneFileHost('deaddrop-sink-faults-', 'a.bin', seededBytes('a', 200_000));
    const sink = await startEmbeddedSink({ hosts: { h1: creds.password } });
    const hole = await blackholeSink();
    const quick = { credentials: creds, retry: FAST, answerTimeoutMs: 300, idleTimeoutMs: 300 };
    try {
      const start = Date.now();
      const r = await runBackup({
        config: loadClientConfig(c.config),
        configFile: c.config,
        mode: 'auto',
        log: new Logger({ level: 'error' }),
        targets: [
          new WebDavTarget({ name: 'hole', url: hole.url, ...quick }),
          new WebDavTarget({ name: 'a', url: `${sink.url}h1/`, ...quick }),
        ],
      });
      assert.equal(r.result, 'degraded', JSON.stringify(r.delivery));
      assert.equal(r.exitCode, 4);
      assert.equal(r.delivery!.hole!.ok, false);
      assert.match(r.delivery!.hole!.error ?? '', /no answer to PROPFIND within 0.3 s|no progress for 0.3 s/);
      assert.deepEqual(r.delivery!.a!.confirmed, [r.set]);
      assert.deepEqual(r.delivery!.hole!.lagging, [r.set]);
      assert.ok(Date.now() - start < 30_000, `took ${Date.now() - start} ms`);
    } finally {
      hole.close();
      await sink.stop();
    }
  },
);

test(
  'a pending set whose spool directory vanished is dropped for the sink lacking it, logged and counted',
  { skip: missingTools('openssl') },
  async () => {
    const c = await localHost('deaddrop-spool-lost-', 'first\n');
    const { tmp, src } = c;
    const other = join(tmp, 'other', 'h1');
    const config = JSON.parse(readFileSync(c.config, 'utf8')) as { sinks: { name: string; url: string }[] };
    config.sinks.push({ name: 'other', url: `file://${other}/` });
    writeFileSync(c.config, JSON.stringify(config));
    mkdirSync(join(tmp, 'other'));
    writeFileSync(other, 'not a directory\n'); // the sink is unusable for the first run
    const errors: string[] = [];
    const log = new Logger({ level: 'error' });
    const logged = log.error.bind(log);
    log.error = (msg: string, fields?: Record<string, unknown>) => {
      errors.push(msg);
      logged(msg, fields);
    };
    const backup = () => runBackup({ config: loadClientConfig(c.config), configFile: c.config, mode: 'auto', log });
    const first = await backup();
    assert.equal(first.result, 'degraded');
    assert.deepEqual(first.delivery!.other!.lagging, [first.set]);
    rmSync(join(c.archiveDir, 'outgoing', first.set!), { recursive: true }); // lost before "other" had it
    rmSync(other);
    mkdirSync(other);
    writeFileSync(join(src, 'b.txt'), 'more\n');
    const second = await backup();
    assert.equal(second.type, 'inc');
    assert.equal(second.result, 'degraded', 'other has an inc without its full');
    // an inc whose full other never got is useless there: not sent, dropped for it too
    assert.deepEqual(second.delivery!.other!.lagging, [first.set, second.set]);
    assert.ok(
      second.problems.some((p) => p.kind === 'spool-lost' && p.path === first.set),
      JSON.stringify(second.problems),
    );
    assert.ok(
      errors.some((m) => m.includes(first.set!) && m.includes('other never received it and lags until')),
      errors.join('\n'),
    );
    const ledger = JSON.parse(readFileSync(join(c.archiveDir, 'ledger', 'other.json'), 'utf8')) as {
      dropped: string[];
    };
    assert.deepEqual(ledger.dropped, [first.set, second.set]);
    const local = JSON.parse(readFileSync(join(c.archiveDir, 'ledger', 'local.json'), 'utf8')) as { dropped: string[] };
    assert.deepEqual(local.dropped, [], 'the sink that had it lacks nothing');
  },
);

test('a PUT published by the sink whose answer is lost counts as created with its bytes', async () => {
  const tmp = tempDir('deaddrop-lost-answer-');
  const setDir = join(tmp, 'outgoing', 'full.20261124T000000Z');
  mkdirSync(setDir, { recursive: true });
  const data = seededBytes('vol', 300_000);
  writeFileSync(join(setDir, 'v.vol1.difftar.gz.p7m'), data);
  const sink = await startEmbeddedSink({ hosts: { h1: creds.password } });
  // forwards everything to the sink, but cuts the connection instead of passing on a PUT's answer
  let cut = 0;
  const proxy = await startSinkProxy(sink.port, {
    dropAnswer(req) {
      if (req.method !== 'PUT') return false;
      cut++;
      return true;
    },
  });
  const port = proxy.port;
  const t = new WebDavTarget({
    name: 'a',
    url: `http://127.0.0.1:${port}/webdav/h1/`,
    credentials: creds,
    retry: FAST,
  });
  try {
    const set = (await readOutgoingSet(join(tmp, 'outgoing'), 'full.20261124T000000Z'))!;
    const ledgers = new Map([['a', { version: 1 as const, sink: 'a', confirmed: [], dropped: [] }]]);
    const r = await deliverSets({ sets: [set], targets: [t], ledgers, log: new Logger({ level: 'error' }) });
    assert.equal(cut, 1, 'the sink published the file and its answer was lost');
    assert.deepEqual(
      { created: r.a!.created, existed: r.a!.existed, bytes: r.a!.bytes, confirmed: r.a!.confirmed },
      { created: 1, existed: 0, bytes: data.length, confirmed: [set.key] },
    );
  } finally {
    t.close();
    proxy.close();
    await sink.stop();
  }
});

test(
  'a file:// sink whose directory is missing (not mounted) is down: nothing is created there, it catches up once mounted',
  { skip: missingTools('openssl') },
  async () => {
    const c = await localHost('deaddrop-unmounted-', 'first\n');
    const { tmp, src, key } = c;
    const mountPoint = join(tmp, 'mnt');
    mkdirSync(mountPoint); // an empty mount point: the sink's host directory is on the unmounted disk
    const hostDir = join(mountPoint, 'h1');
    const config = JSON.parse(readFileSync(c.config, 'utf8')) as { sinks: { name: string; url: string }[] };
    config.sinks.push({ name: 'nfs', url: `file://${hostDir}/` });
    writeFileSync(c.config, JSON.stringify(config));
    const log = new Logger({ level: 'error' });
    const backup = () => runBackup({ config: loadClientConfig(c.config), configFile: c.config, mode: 'auto', log });

    const first = await backup();
    assert.equal(first.result, 'degraded');
    assert.equal(existsSync(hostDir), false, 'the missing directory was not made on the local disk');
    assert.match(first.delivery!.nfs!.error ?? '', /mnt\/h1\/ does not exist: mount the sink/);
    assert.deepEqual(first.delivery!.nfs!.lagging, [first.set]);

    mkdirSync(hostDir); // mounted again
    writeFileSync(join(src, 'b.txt'), 'second\n');
    const second = await backup();
    assert.equal(second.result, 'ok', JSON.stringify(second.delivery));
    assert.deepEqual(second.delivery!.nfs!.confirmed, [first.set, second.set]);
    const out = join(tmp, 'restored');
    const r = await runDeaddrop(['restore', '-q', '--from', hostDir, '--host', 'h1', '--key', key.plainKeyPath, '--to', out]); // prettier-ignore
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(compareTrees(src, out), [], 'the caught-up sink alone restores the latest tree');
  },
);

test(
  "a file:// sink: a killed run's upload temp file is removed after an hour, a fresh one is left",
  { skip: missingTools('openssl') },
  async () => {
    const c = await localHost('deaddrop-stale-temp-', 'a\n');
    const stale = join(c.sinkHostDir, '.deaddrop-upload-0123456789ab');
    const fresh = join(c.sinkHostDir, '.deaddrop-upload-ba9876543210');
    writeFileSync(stale, seededBytes('cut', 100_000));
    writeFileSync(fresh, seededBytes('going', 1000));
    const twoHoursAgo = new Date(Date.now() - 7200_000);
    utimesSync(stale, twoHoursAgo, twoHoursAgo);
    const log = new Logger({ level: 'error' });
    const r = await runBackup({ config: loadClientConfig(c.config), configFile: c.config, mode: 'auto', log });
    assert.equal(r.result, 'ok');
    assert.equal(existsSync(stale), false, 'the stale temp file is gone');
    assert.equal(existsSync(fresh), true, 'a temp file that may be an upload under way is left');
  },
);
