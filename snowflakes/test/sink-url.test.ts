import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { missingTools, runDeaddrop } from '@deaddrop/test';
import { certDir, writeFleet } from './fleet.js';

/*
 * The sink URLs a snowflake script is generated with: credentials belong in the host's netrc, so
 * a URL carrying them is refused before a script (0755, and curl's argv) could hold them.
 */

test(
  'a sink URL with user:password@ (or a user alone) is refused: exit 2, naming the sink, no file written',
  { skip: missingTools('openssl') },
  async () => {
    const dir = certDir('deaddrop-snowurl-');
    for (const url of ['http://ap.lab:pw-secret-4711@127.0.0.1:8084/webdav/', 'https://ap.lab@backup.example.org/']) {
      const fleet = writeFleet(dir, {
        recipients: ['c.pem'],
        sinks: [
          { name: 'a', url: 'http://127.0.0.1:8085/webdav/' },
          { name: 'b', url },
        ],
        hosts: [
          { name: 'ap.lab', kind: 'openwrt' },
          { name: 'fw.lab', kind: 'opnsense' },
        ],
      });
      for (const [kind, host] of [
        ['openwrt', 'ap.lab'],
        ['opnsense', 'fw.lab'],
      ] as const) {
        const out = join(dir, `out-${kind}`);
        const r = await runDeaddrop(['snowflake', kind, '--fleet', fleet, '--host', host, '--out', out]);
        assert.equal(r.code, 2, `${url}: ${r.stderr}`);
        assert.match(r.stderr, /sinks: sink "b": URL must not contain credentials \(they belong in the netrc file\)/);
        assert.doesNotMatch(r.stderr + r.stdout, /pw-secret-4711/);
        assert.ok(!existsSync(out), 'no script written');
        const stdout = await runDeaddrop(['snowflake', kind, '--fleet', fleet, '--host', host]);
        assert.equal(stdout.code, 2);
        assert.equal(stdout.stdout, '');
      }
    }
  },
);
