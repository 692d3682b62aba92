/**
 * A damaged state.json while a sink is away: the sets spooled for that sink exist nowhere else,
 * so the next run must not delete them as a killed run's leftovers. Complete ones (their files
 * match their own sums file) are taken back as pending and reach the sink once it is back.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { loadClientConfig } from '@deaddrop/common/config/client';
import { Logger } from '@deaddrop/common/log';
import { runBackup } from '@deaddrop/client/backup/run';
import { makeTestRecipient, missingTools, seededBytes, tempDir, writeLocalClientConfig } from '@deaddrop/test';
import { captureStream } from './capture.js';

async function hostWithLocalSink() {
  const tmp = tempDir('deaddrop-damaged-state-');
  const src = join(tmp, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'a.bin'), seededBytes('a', 100_000));
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const c = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath] });
  const logs = captureStream(false);
  const log = new Logger({ level: 'warn', stream: logs.stream });
  const backup = () => runBackup({ config: loadClientConfig(c.config), configFile: c.config, mode: 'auto', log });
  return { tmp, src, ...c, logs, backup };
}

test(
  'a damaged state.json keeps the sets spooled for a sink that is away; they reach it once it is back',
  { skip: missingTools('openssl') },
  async () => {
    const h = await hostWithLocalSink();
    const outgoing = join(h.archiveDir, 'outgoing');
    assert.equal((await h.backup()).result, 'ok');
    const away = `${h.sinkHostDir}.away`;
    renameSync(h.sinkHostDir, away); // unmounted
    writeFileSync(join(h.src, 'b.bin'), seededBytes('b', 50_000));
    const i1 = await h.backup();
    writeFileSync(join(h.src, 'c.bin'), seededBytes('c', 50_000));
    const i2 = await h.backup();
    assert.deepEqual([i1.type, i2.type], ['inc', 'inc']);
    assert.deepEqual(readdirSync(outgoing).sort(), [i1.set, i2.set].sort(), 'both incs wait in the spool');

    writeFileSync(join(h.archiveDir, 'state.json'), '{"version": 1, "host": '); // a torn write, a hand
    const f2 = await h.backup();
    assert.equal(f2.type, 'full', 'no usable chain: a new one');
    for (const key of [i1.set!, i2.set!])
      assert.ok(existsSync(join(outgoing, key)), `${key} is still spooled: ${readdirSync(outgoing).join(' ')}`);
    const warned = h.logs.text();
    assert.match(warned, /state\.json/, warned);
    assert.ok(warned.includes(i1.set!) && warned.includes(i2.set!), `the kept sets are named: ${warned}`);

    renameSync(away, h.sinkHostDir); // mounted again
    writeFileSync(join(h.src, 'd.bin'), seededBytes('d', 50_000));
    const back = await h.backup();
    assert.equal(back.result, 'ok', JSON.stringify(back.delivery));
    for (const key of [i1.set!, i2.set!, f2.set!])
      assert.ok(back.delivery!.local!.confirmed.includes(key), `the sink got ${key}`);
    const onSink = readdirSync(h.sinkHostDir);
    for (const key of [i1.set!, i2.set!]) {
      const end = key.slice(key.lastIndexOf('.') + 1);
      assert.ok(
        onSink.some((n) => n.endsWith('.sha256sums') && n.includes(`.to.${end}`)),
        `${key}: its sums file is on the sink`,
      );
    }
    assert.deepEqual(readdirSync(outgoing), [], 'every set delivered: the spool is empty');
  },
);

test(
  'a run that fails after state.json was lost still leaves the kept sets pending: the next run keeps them',
  { skip: missingTools('openssl') },
  async () => {
    const h = await hostWithLocalSink();
    const outgoing = join(h.archiveDir, 'outgoing');
    const away = `${h.sinkHostDir}.away`;
    renameSync(h.sinkHostDir, away); // the only sink is away: the first full waits in the spool
    const f1 = await h.backup();
    assert.deepEqual(readdirSync(outgoing), [f1.set], 'the full waits in the spool');
    rmSync(join(h.archiveDir, 'state.json'));

    // a run that takes the set back, then is interrupted (SIGINT: ops/interrupt.ts aborts it)
    const stop = new AbortController();
    const logs = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (chunk.toString().includes('kept the')) stop.abort(new Error('interrupted'));
        cb();
      },
    });
    const log = new Logger({ level: 'warn', stream: logs });
    await assert.rejects(
      runBackup({ config: loadClientConfig(h.config), configFile: h.config, mode: 'auto', log, signal: stop.signal }),
      /interrupted/,
    );
    assert.ok(stop.signal.aborted, 'the run failed after it took the set back');
    assert.ok(existsSync(join(outgoing, f1.set!)), 'the failed run kept the set');

    const next = await h.backup();
    assert.ok(existsSync(join(outgoing, f1.set!)), `the next run keeps it too: ${readdirSync(outgoing).join(' ')}`);
    renameSync(away, h.sinkHostDir);
    const back = await h.backup();
    assert.equal(back.result, 'ok', JSON.stringify(back.delivery));
    for (const key of [f1.set!, next.set!])
      assert.ok(back.delivery!.local!.confirmed.includes(key), `the sink got ${key}`);
  },
);
