/**
 * A spool over its limit drops its oldest set, here a full the lagging sink never got: the
 * incrementals of that chain can then never be restored on that sink, so they go with it
 * instead of holding spool space that newer sets need.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadClientConfig } from '@deaddrop/common/config/client';
import { Logger } from '@deaddrop/common/log';
import { runBackup } from '@deaddrop/client/backup/run';
import { makeTestRecipient, missingTools, seededBytes, tempDir, writeLocalClientConfig } from '@deaddrop/test';

const dirBytes = (dir: string) => readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);

test(
  "a spool over its limit that drops a lagging sink's full drops that chain's incrementals with it",
  { skip: missingTools('openssl') },
  async () => {
    const tmp = tempDir('deaddrop-spool-overflow-');
    const src = join(tmp, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'big.bin'), seededBytes('big', 300_000)); // incompressible: a big full
    const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
    const c = writeLocalClientConfig(tmp, { sources: [src], recipients: [key.certPath] });
    const config = JSON.parse(readFileSync(c.config, 'utf8')) as Record<string, any>;
    config.sinks.push({ name: 'nfs', url: `file://${join(tmp, 'unmounted', 'h1')}/` }); // away throughout
    writeFileSync(c.config, JSON.stringify(config));
    const log = new Logger({ level: 'error', stream: { write: () => true } as unknown as NodeJS.WritableStream });
    const backup = (step: string) => {
      writeFileSync(join(src, `${step}.bin`), seededBytes(step, 20_000));
      return runBackup({ config: loadClientConfig(c.config), configFile: c.config, mode: 'auto', log });
    };
    const outgoing = join(c.archiveDir, 'outgoing');

    const f1 = await backup('f1');
    const i1 = await backup('i1');
    assert.deepEqual([f1.type, i1.type], ['full', 'inc']);
    assert.deepEqual(readdirSync(outgoing).sort(), [f1.set, i1.set].sort(), 'both wait for the nfs sink');
    // room for two incs, not for the full with them
    const [full, inc] = [dirBytes(join(outgoing, f1.set!)), dirBytes(join(outgoing, i1.set!))];
    writeFileSync(c.config, JSON.stringify({ ...config, spoolLimit: 2 * inc + Math.floor(full / 2) }));

    const i2 = await backup('i2');
    assert.equal(i2.type, 'inc');
    assert.deepEqual(
      i2.problems.map((p) => [p.kind, p.path]),
      [['spool-overflow', f1.set]],
      'the full is dropped',
    );
    assert.deepEqual(
      readdirSync(outgoing),
      [],
      'I1 and I2 need F1, which the nfs sink will never get: nothing of that chain is kept for it',
    );
    assert.equal(i2.spoolBytes, 0);
    assert.deepEqual(i2.delivery!.nfs!.lagging.sort(), [f1.set, i1.set, i2.set].sort(), 'the sink lags');
  },
);
