import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { hasTool, missingTools, startNginxSink, uploadTemps } from '@deaddrop/test';
import { conformanceSuite, readerSuite, request } from './sink-conformance.js';

conformanceSuite('nginx', startNginxSink);
readerSuite('nginx', startNginxSink);

const chattrWorks = (dir: string) => spawnSync('chattr', ['+a', dir]).status === 0;

test(
  'nginx race closed by chattr +a on the host directory: one 201, the late PUT refused, winner intact',
  { skip: missingTools('nginx') || (hasTool('chattr') ? false : 'no chattr') },
  async (t) => {
    const sink = await startNginxSink({ hosts: { alice: 'pw' } });
    const hostDir = join(sink.root, 'alice');
    if (!chattrWorks(hostDir)) return t.skip('chattr +a not supported here (needs ext4/xfs and CAP_LINUX_IMMUTABLE)');
    try {
      const a = randomBytes(3 << 20);
      const b = randomBytes(3 << 20);
      // both pass nginx's existence test at request start; the bodies finish together
      const slow = (data: Buffer) =>
        Readable.from(
          (async function* () {
            yield data.subarray(0, 1 << 20);
            await new Promise((r) => setTimeout(r, 500));
            yield data.subarray(1 << 20);
          })(),
        );
      const headers = {
        authorization: 'Basic ' + Buffer.from('alice:pw').toString('base64'),
        'content-length': String(a.length),
      };
      const [ra, rb] = await Promise.all([
        request(sink, 'PUT', '/webdav/alice/race.p7m', { headers, body: slow(a) }),
        request(sink, 'PUT', '/webdav/alice/race.p7m', { headers, body: slow(b) }),
      ]);
      const statuses = [ra.status, rb.status];
      t.diagnostic(`race statuses: ${statuses.join(', ')}`);
      assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses ${statuses.join(',')}`);
      assert.ok(
        statuses.every((s) => [201, 409, 500].includes(s)),
        `statuses ${statuses.join(',')}`,
      );
      assert.deepEqual(readFileSync(join(hostDir, 'race.p7m')), ra.status === 201 ? a : b);
      assert.deepEqual(uploadTemps(sink), []);
    } finally {
      spawnSync('chattr', ['-a', hostDir]);
      await sink.stop();
    }
  },
);
