/**
 * Before a set is written the sinks are listed for the set times they hold. A sink that takes
 * connections and never answers is given LIST_DEADLINE_MS, not the listing's own retries
 * (minutes, during which nothing is written for any sink); the sinks that answer still count.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { setTimesOnSinks } from '@deaddrop/client/backup/set-time';
import { FileTarget } from '@deaddrop/client/transport/file-target';
import { WebDavTarget } from '@deaddrop/client/transport/webdav-target';
import { Logger } from '@deaddrop/common/log';
import { blackholeSink, tempDir } from '@deaddrop/test';

test(
  'a sink that never answers the listing is skipped at the deadline; the others’ set times count',
  { timeout: 20_000 },
  async () => {
    const dir = join(tempDir('deaddrop-set-time-'), 'h1');
    mkdirSync(dir);
    writeFileSync(join(dir, 'duplicity-full.20261124T101500Z.manifest.p7m'), 'x');
    const hole = await blackholeSink();
    try {
      const lines = new PassThrough();
      const log = new Logger({ level: 'debug', stream: lines });
      // the hole's own retries (5 tries of 30 s each by default) would outlast this test's timeout
      const times = await setTimesOnSinks(
        [
          new WebDavTarget({ name: 'hole', url: hole.url, credentials: { login: 'h1', password: 'pw' } }),
          new FileTarget('a', `file://${dir}/`),
        ],
        log,
        500,
      );
      assert.deepEqual([...times], [Date.UTC(2026, 10, 24, 10, 15) / 1000]);
      assert.ok(hole.connections() > 0, 'the hole was asked');
      assert.match(String(lines.read()), /sink hole: cannot list it to check set names \(no answer in 0\.5 s\)/);
    } finally {
      hole.close();
    }
  },
);
