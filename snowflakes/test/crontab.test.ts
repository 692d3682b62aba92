import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { missingTools, runDeaddrop } from '@deaddrop/test';
import { certDir, writeFleet } from './fleet.js';

/*
 * The crontab line goes into root's crontab next to what is there, and OpenWrt's cron is not
 * running on a router that had none: the generator says both, not "copy it there".
 */
test(
  'openwrt: the generator says to append the crontab line, then enable and restart cron',
  { skip: missingTools('openssl') },
  async () => {
    const dir = certDir('deaddrop-snowcron-');
    const fleet = writeFleet(dir, {
      recipients: ['c.pem'],
      sinks: [{ name: 'a', url: 'http://127.0.0.1:8085/webdav/' }],
      hosts: [{ name: 'ap.lab', kind: 'openwrt' }],
    });
    const out = join(dir, 'out');
    const r = await runDeaddrop(['snowflake', 'openwrt', '--fleet', fleet, '--host', 'ap.lab', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.startsWith(join(out, 'crontab')));
    assert.equal(
      line,
      `${join(out, 'crontab')}: append to /etc/crontabs/root, then run ` +
        '/etc/init.d/cron enable; /etc/init.d/cron restart',
    );
    assert.match(r.stdout, new RegExp(`^${join(out, 'deaddrop-openwrt.sh')} -> /usr/bin/deaddrop-openwrt\\.sh$`, 'm'));
    const json = await runDeaddrop([
      'snowflake',
      'openwrt',
      '--fleet',
      fleet,
      '--host',
      'ap.lab',
      '--out',
      out,
      '--json',
    ]);
    const files = (JSON.parse(json.stdout) as { files: { file: string; install?: string }[] }).files;
    assert.match(files.find((f) => f.file.endsWith('crontab'))?.install ?? '', /^append to \/etc\/crontabs\/root/);
  },
);
