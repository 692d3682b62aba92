import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, ExitCode, loadClientConfig, loadFleetConfig } from '@deaddrop/common';
import { tempDir } from '@deaddrop/test';

const minimal = {
  host: 'manning.lab',
  sources: ['/'],
  recipients: ['/etc/deaddrop/recipient.pem'],
  sinks: [{ name: 'a', url: 'http://127.0.0.1:8084/webdav/manning.lab/' }],
};

function write(dir: string, name: string, data: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof data === 'string' ? data : JSON.stringify(data));
  return file;
}

test('client config: defaults filled in, sizes and durations parsed', () => {
  const dir = tempDir();
  const cfg = loadClientConfig(write(dir, 'c.json', { ...minimal, volumeSize: '50MiB', fullEvery: '7d' }));
  assert.equal(cfg.volumeSize, 50 * 2 ** 20);
  assert.equal(cfg.fullEvery, 7 * 86400);
  assert.equal(cfg.archiveDir, '/var/lib/deaddrop');
  assert.equal(cfg.oneFileSystem, true);
  assert.deepEqual(cfg.exclude, []);
});

test('client config errors name the file and the field, exit 2', () => {
  const dir = tempDir();
  const cases: [unknown, RegExp][] = [
    [{ ...minimal, colour: 'blue' }, /c\.json: colour: unknown field/],
    [
      { ...minimal, sinks: [{ name: 'a', url: 'http://x/', pasword: 'x' }] },
      /c\.json: sinks\[0\]\.pasword: unknown field/,
    ],
    [{ ...minimal, volumeSize: 'huge' }, /c\.json: volumeSize: .*not a size/],
    [{ ...minimal, sinks: [{ name: 'a', url: 'ftp://x/' }] }, /c\.json: sinks\[0\]\.url: must be an http/],
    [{ ...minimal, sources: ['relative'] }, /c\.json: sources\[0\]: must be an absolute path/],
    [{ ...minimal, exclude: ['/tmp', 'var/cache'] }, /c\.json: exclude\[1\]: must be an absolute path or glob/],
    [{ ...minimal, host: undefined }, /c\.json: host: missing \(a required field\)/],
    // the sinks take 1-63 characters (its directory there, its Basic-auth user)
    [{ ...minimal, host: 'h'.repeat(64) }, /c\.json: host: must be a host name: 1-63/],
    [{ ...minimal, host: 'a..b' }, /c\.json: host: must be a host name: no "\.\."/],
    // a misspelt required field: the unknown name is what tells what to fix
    [{ ...minimal, sources: undefined, sourcez: ['/'] }, /c\.json: sourcez: unknown field/],
    [{ ...minimal, pings: { fail: 'https://u:p@hc.example/x' } }, /c\.json: pings\.fail: must be an http/],
    [{ ...minimal, pings: { start: 'ftp://hc.example/x' } }, /c\.json: pings\.start: must be an http/],
    // relative paths would be resolved against the cwd, which is / under systemd
    [{ ...minimal, recipients: ['recipient.pem'] }, /c\.json: recipients\[0\]: must be an absolute path/],
    [{ ...minimal, metricsFile: 'deaddrop.prom' }, /c\.json: metricsFile: must be an absolute path/],
    [{ ...minimal, netrc: 'netrc' }, /c\.json: netrc: must be an absolute path/],
    [
      { ...minimal, sinks: [{ name: 'a', url: 'https://x/h/', ca: 'ca.pem' }] },
      /c\.json: sinks\[0\]\.ca: must be an absolute path/,
    ],
    ['{ not json', /c\.json: not valid JSON/],
  ];
  for (const [data, re] of cases) {
    const file = write(dir, 'c.json', data);
    assert.throws(
      () => loadClientConfig(file),
      (err: unknown) => err instanceof ConfigError && err.exitCode === ExitCode.USAGE && re.test(err.message),
      `expected ${re} for ${JSON.stringify(data)}`,
    );
  }
  assert.throws(() => loadClientConfig(join(dir, 'missing.json')), /missing\.json: no such file/);
  assert.equal(loadClientConfig(write(dir, 'c.json', { ...minimal, host: 'h'.repeat(63) })).host.length, 63);
});

test('fleet config: recipients resolve relative to the fleet file; thresholds parsed', () => {
  const dir = tempDir();
  const file = write(dir, 'fleet.json', {
    recipients: ['keys/recipient.pem'],
    sinks: [{ name: 'deaddrop', url: 'http://[2001:db8::10]:8084/webdav/', root: '/srv/backups' }],
    hosts: [
      { name: 'manning.lab', kind: 'linux', sources: ['/'], maxFullAge: '40d' },
      { name: 'wifi.lab', kind: 'openwrt', mtdEvery: '7d' },
    ],
  });
  const fleet = loadFleetConfig(file);
  assert.equal(fleet.recipients[0], join(dir, 'keys/recipient.pem'));
  assert.equal(fleet.hosts[0]!.maxFullAge, 40 * 86400);
  assert.equal(fleet.hosts[1]!.mtdEvery, 7 * 86400);
  const bad = write(dir, 'bad.json', {
    recipients: ['r'],
    sinks: [{ name: 's', url: 'http://x/' }],
    hosts: [{ name: 'h', kind: 'windows' }],
  });
  assert.throws(() => loadFleetConfig(bad), /bad\.json: hosts\[0\]\.kind: /);
});
