/**
 * A sink away for a long time has a set dropped for it at nearly every run (spool limit, a cut
 * chain): its ledger must not keep every one by name for ever. Here the ledger of a sink away
 * for some 300 runs is given (300 dropped sets of older chains): the run keeps only a bounded
 * list of names, yet still reports the whole lag (log line, delivery count, metrics, exit 4),
 * and once the sink is back and confirms a newer full the lag is gone.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadClientConfig } from '@deaddrop/common/config/client';
import { Logger } from '@deaddrop/common/log';
import { runBackup } from '@deaddrop/client/backup/run';
import { emptyMetrics } from '@deaddrop/client/ops/metrics';
import { finishedMetrics, startedMetrics } from '@deaddrop/client/ops/run-metrics';
import { makeTestRecipient, missingTools, seededBytes, tempDir, writeLocalClientConfig } from '@deaddrop/test';

const OLD_RUNS = 300;
/** Sets of a chain long gone, one per day of 2024, as spool overflow drops them. */
const oldKey = (i: number) => {
  const day = new Date(Date.UTC(2024, 0, 1) + i * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
  return i === 0 ? `full.${day}T000000Z` : `inc.${day}T000000Z.to.${day}T010000Z`;
};

test(
  'a sink away for hundreds of runs: its dropped list stays bounded, the lag is still reported in full',
  { skip: missingTools('openssl') },
  async () => {
    const tmp = tempDir('deaddrop-ledger-bound-');
    const src = join(tmp, 'src');
    mkdirSync(src);
    const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
    const c = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath] });
    const nfsDir = join(tmp, 'nfs', 'h1');
    const config = JSON.parse(readFileSync(c.config, 'utf8')) as Record<string, any>;
    config.sinks.push({ name: 'nfs', url: `file://${nfsDir}/` }); // not mounted until the third run
    writeFileSync(c.config, JSON.stringify(config));
    const dropped = Array.from({ length: OLD_RUNS }, (_, i) => oldKey(i));
    mkdirSync(join(c.archiveDir, 'ledger'), { recursive: true, mode: 0o700 });
    writeFileSync(
      join(c.archiveDir, 'ledger', 'nfs.json'),
      JSON.stringify({ version: 1, sink: 'nfs', confirmed: [], dropped }),
      { mode: 0o600 },
    );
    const warnings: string[] = [];
    const log = new Logger({ level: 'warn', stream: { write: () => true } as unknown as NodeJS.WritableStream });
    log.warn = (msg: string) => void warnings.push(msg);
    const ledger = () =>
      JSON.parse(readFileSync(join(c.archiveDir, 'ledger', 'nfs.json'), 'utf8')) as { dropped: string[] };
    const backup = (step: string) => {
      writeFileSync(join(src, `${step}.bin`), seededBytes(step, 20_000));
      return runBackup({ config: loadClientConfig(c.config), configFile: c.config, mode: 'auto', log });
    };

    const f1 = await backup('f1');
    const i1 = await backup('i1');
    for (const [n, r] of [f1, i1].entries()) {
      assert.equal(r.result, 'degraded');
      assert.equal(r.exitCode, 4);
      const lag = OLD_RUNS + n + 1; // the old sets, and this chain's sets spooled for it
      assert.equal(r.delivery!.nfs!.lagCount, lag, `run ${n + 1}: delivery counts every set the sink lacks`);
      const metrics = finishedMetrics(
        startedMetrics(emptyMetrics(), ['local', 'nfs'], 0),
        { kind: 'finished', run: r },
        1,
        1,
      );
      assert.equal(metrics.sinkLagging.nfs, lag, `run ${n + 1}: deaddrop_backup_sink_lagging_sets counts them all`);
      assert.ok(
        warnings.includes(`sink nfs lags since ${oldKey(0)} (${lag} sets)`),
        `run ${n + 1}: the lag line counts them all:\n${warnings.join('\n')}`,
      );
    }
    assert.ok(ledger().dropped.length <= 100, `the ledger names ${ledger().dropped.length} dropped sets`);
    assert.ok(i1.delivery!.nfs!.lagging.length <= 100, 'the result names a bounded number of them');

    mkdirSync(nfsDir, { recursive: true }); // mounted again: it gets this chain
    const i2 = await backup('i2');
    assert.equal(i2.result, 'ok', JSON.stringify(i2.delivery));
    assert.equal(i2.delivery!.nfs!.lagCount, 0);
    assert.deepEqual(ledger().dropped, []);
  },
);
