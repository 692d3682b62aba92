import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { missingTools, runDeaddrop } from '@deaddrop/test';
import { certDir, writeFleet } from './fleet.js';

/** A fleet with both snowflake kinds and a throwaway recipient certificate. */
function fleetDir(): { dir: string; fleet: string } {
  const dir = certDir('deaddrop-snowgen-');
  const fleet = writeFleet(dir, {
    recipients: ['c.pem', 'c.pem'],
    sinks: [
      { name: 'a', url: 'http://[2001:db8::10]:8084/webdav/' },
      { name: 'b', url: 'https://backup.example.org:8084/webdav', ca: 'c.pem' },
    ],
    hosts: [
      { name: 'fw.lab', kind: 'opnsense', dataset: 'tank' },
      { name: 'ap.lab', kind: 'openwrt' },
      { name: 'pc.lab', kind: 'linux' },
    ],
  });
  return { dir, fleet };
}

test(
  'every generated script is shellcheck -s sh clean and parses in dash and busybox ash',
  {
    skip: missingTools('shellcheck', 'openssl', 'dash', 'busybox'),
  },
  async () => {
    const { dir, fleet } = fleetDir();
    for (const [kind, host] of [
      ['opnsense', 'fw.lab'],
      ['openwrt', 'ap.lab'],
    ] as const) {
      const out = join(dir, kind);
      const r = await runDeaddrop(['snowflake', kind, '--fleet', fleet, '--host', host, '--out', out, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const files = (JSON.parse(r.stdout) as { files: { file: string; installPath: string }[] }).files;
      const scripts = files.filter((f) => readFileSync(f.file, 'utf8').startsWith('#!/bin/sh'));
      assert.equal(scripts.length, 2, 'the backup script and its syshook or install check');
      for (const f of scripts) {
        const sc = spawnSync('shellcheck', ['-s', 'sh', f.file], { encoding: 'utf8' });
        assert.equal(sc.status, 0, `${f.file}:\n${sc.stdout}`);
        for (const shell of [
          ['dash', '-n'],
          ['busybox', 'ash', '-n'],
        ]) {
          const n = spawnSync(shell[0]!, [...shell.slice(1), f.file], { encoding: 'utf8' });
          assert.equal(n.status, 0, `${shell.join(' ')} ${f.file}:\n${n.stderr}`);
        }
      }
    }
  },
);

test('opnsense: script embeds certs and per-host URLs; configd action and syshook', async () => {
  const { dir, fleet } = fleetDir();
  const r = await runDeaddrop(['snowflake', 'opnsense', '--fleet', fleet, '--host', 'fw.lab']);
  assert.equal(r.code, 0, r.stderr);
  const script = r.stdout;
  assert.equal(script.match(/-----BEGIN CERTIFICATE-----/g)?.length, 3, "both recipients and sink b's CA embedded");
  assert.match(script, /cat > "\$WORK\/ca2.pem"/);
  assert.match(
    script,
    /SINKS='http:\/\/\[2001:db8::10\]:8084\/webdav\/fw\.lab\/ https:\/\/backup\.example\.org:8084\/webdav\/fw\.lab\/'/,
  );
  assert.match(script, /DATASET='tank'/);
  assert.match(script, /--netrc-file "\$NETRC"/);
  // a piped body is never retried (curl would send what is left of the pipe); a file body is,
  // by put_file (curl's own --retry would hide a 409 to its retry from the script)
  assert.doesNotMatch(script, /--retry/);
  assert.match(script, /pf_code=\$\(curl_put "\$1" "\$2" "\$3"\) \|\| pf_status=\$\?/);
  assert.match(script, /curl_put "\$url\$name" "\$i" - exec <&3 > "\$d\/code\$i" &/);
  assert.match(script, /put_file "\$url\$name\.sha256" "\$i" "\$d\/companion"/);
  // a PUT counts only with a 2xx: curl -f lets a 3xx pass
  assert.match(script, /-f -o \/dev\/null -w '%\{http_code\}'/);
  assert.match(script, /RECIPIENTS="\$WORK\/recipient0\.pem \$WORK\/recipient1\.pem"/);
  assert.match(script, /openssl smime -encrypt -binary -aes256 -stream -outform DER/);
  assert.doesNotMatch(script, /<\(|\[\[|pipefail|local /, 'no bash-only syntax');
  const out = join(dir, 'out');
  assert.equal(
    (await runDeaddrop(['snowflake', 'opnsense', '--fleet', fleet, '--host', 'fw.lab', '--out', out])).code,
    0,
  );
  const action = readFileSync(join(out, 'actions_deaddrop.conf'), 'utf8');
  assert.match(
    action,
    /^\[backup\]\ncommand:\/usr\/local\/sbin\/deaddrop-opnsense\.sh\nparameters:daily\ntype:script\n/m,
  );
  assert.match(action, /^description:deaddrop daily backup/m);
  const hook = readFileSync(join(out, '50-deaddrop'), 'utf8');
  assert.match(hook, /deaddrop-opnsense\.sh' conf\n/);
});

test('the syshook retries a /conf run that finds the lock held (exit 3), then stops', async () => {
  const { dir, fleet } = fleetDir();
  const out = join(dir, 'out');
  assert.equal(
    (await runDeaddrop(['snowflake', 'opnsense', '--fleet', fleet, '--host', 'fw.lab', '--out', out])).code,
    0,
  );
  // the backup script is a stub here: locked twice, then a run that succeeds
  const calls = join(dir, 'calls');
  const stub = join(dir, 'backup-stub.sh');
  writeFileSync(stub, `#!/bin/sh\necho "$1" >> '${calls}'\n[ "$(wc -l < '${calls}')" -ge 3 ] && exit 0\nexit 3\n`, {
    mode: 0o755,
  });
  const hook = join(dir, 'hook.sh');
  writeFileSync(
    hook,
    readFileSync(join(out, '50-deaddrop'), 'utf8').replaceAll('/usr/local/sbin/deaddrop-opnsense.sh', stub),
  );
  const r = spawnSync('sh', [hook], { env: { ...process.env, DEADDROP_HOOK_DELAY: '0' }, encoding: 'utf8' });
  assert.equal(r.status, 0, 'the hook itself returns at once');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !(existsSync(calls) && readFileSync(calls, 'utf8').split('\n').length > 3))
    await new Promise((res) => setTimeout(res, 50));
  await new Promise((res) => setTimeout(res, 300)); // a fourth call would come now
  assert.equal(readFileSync(calls, 'utf8'), 'conf\nconf\nconf\n');
});

test(
  'openwrt: crontab line and an install check naming the opkg packages',
  { skip: missingTools('busybox') },
  async () => {
    const { dir, fleet } = fleetDir();
    const out = join(dir, 'out');
    const r = await runDeaddrop(['snowflake', 'openwrt', '--fleet', fleet, '--host', 'ap.lab', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(out, 'crontab'), 'utf8'), '17 3 * * * /usr/bin/deaddrop-openwrt.sh\n');
    assert.match(readFileSync(join(out, 'deaddrop-openwrt.sh'), 'utf8'), /MTD_EVERY=604800/);
    // a PATH with only busybox's applets (no curl, no openssl): the check fails and says what to install
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const busybox = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();
    for (const tool of ['sh', 'grep', 'sha256sum', 'mkfifo', 'tee', 'mktemp', 'logger', 'gunzip'])
      symlinkSync(busybox, join(bin, tool));
    const check = spawnSync(busybox, ['sh', join(out, 'deaddrop-check.sh')], { env: { PATH: bin }, encoding: 'utf8' });
    assert.equal(check.status, 1);
    assert.match(check.stderr, /missing: openssl-util curl busybox\(sysupgrade\)/);
    assert.match(check.stderr, /opkg install openssl-util curl/);
  },
);

test('openwrt: mtdEvery "off" turns flash dumps off; a value that is neither a duration nor "off" is refused', async () => {
  const dir = certDir('deaddrop-snowgen-');
  const gen = (mtdEvery: unknown) => {
    const fleet = writeFleet(dir, {
      recipients: ['c.pem'],
      sinks: [{ name: 'a', url: 'http://127.0.0.1:8084/webdav/' }],
      hosts: [{ name: 'ap.lab', kind: 'openwrt', mtdEvery }],
    });
    return runDeaddrop(['snowflake', 'openwrt', '--fleet', fleet, '--host', 'ap.lab']);
  };
  let r = await gen('off');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^MTD_EVERY=off$/m);
  r = await gen('14d');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^MTD_EVERY=1209600$/m);
  for (const [bad, why] of [
    ['never', /hosts\[0\]\.mtdEvery.*"never" is not a duration.*or "off" for no flash dumps/],
    [7, /hosts\[0\]\.mtdEvery.*7 has no unit.*or "off"/],
  ] as const) {
    r = await gen(bad);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, why);
  }
});

test('usage and config errors name the field', async () => {
  const { fleet } = fleetDir();
  let r = await runDeaddrop(['snowflake', 'openwrt', '--fleet', fleet, '--host', 'fw.lab']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /hosts.*fw\.lab.*opnsense, not openwrt/);
  r = await runDeaddrop(['snowflake', 'opnsense', '--fleet', fleet, '--host', 'nope.lab']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no host named "nope\.lab"/);
  r = await runDeaddrop(['snowflake', 'windows', '--fleet', fleet, '--host', 'fw.lab']);
  assert.equal(r.code, 2);
  r = await runDeaddrop(['snowflake', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--out/);
});

test('a recipient file with several certificates: all are embedded, each as its own recipient', async () => {
  const { dir, fleet } = fleetDir();
  const r2 = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=t2', '-keyout', 'k2.pem', '-out', 'c2.pem'],
    { cwd: dir },
  );
  assert.equal(r2.status, 0, r2.stderr.toString());
  const bundle = join(dir, 'bundle.pem');
  writeFileSync(
    bundle,
    `first\n${readFileSync(join(dir, 'c.pem'), 'utf8')}second\n${readFileSync(join(dir, 'c2.pem'), 'utf8')}`,
  );
  const config = JSON.parse(readFileSync(fleet, 'utf8')) as { recipients: string[] };
  writeFileSync(fleet, JSON.stringify({ ...config, recipients: [bundle] }));
  const r = await runDeaddrop(['snowflake', 'openwrt', '--fleet', fleet, '--host', 'ap.lab']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /RECIPIENTS="\$WORK\/recipient0\.pem \$WORK\/recipient1\.pem"/);
  const embedded = [
    ...r.stdout.matchAll(/cat > "\$WORK\/recipient\d\.pem" <<'DEADDROP_CERT'\n([\s\S]*?)\nDEADDROP_CERT/g),
  ].map((m) => m[1]);
  assert.deepEqual(
    embedded,
    ['c.pem', 'c2.pem'].map((f) => readFileSync(join(dir, f), 'utf8').trim()),
    'one certificate per recipient file, the text around them dropped',
  );
});

test('a recipient or CA file holding a private key is refused: exit 2, no file written', async () => {
  const { dir, fleet } = fleetDir();
  const combined = join(dir, 'cert-and-key.pem');
  writeFileSync(combined, readFileSync(join(dir, 'c.pem'), 'utf8') + readFileSync(join(dir, 'k.pem'), 'utf8'));
  const config = JSON.parse(readFileSync(fleet, 'utf8')) as { recipients: string[]; sinks: { ca?: string }[] };
  for (const [field, variant] of [
    ['recipients', { ...config, recipients: [join(dir, 'c.pem'), combined] }],
    ['sinks.b.ca', { ...config, sinks: [config.sinks[0], { ...config.sinks[1], ca: 'cert-and-key.pem' }] }],
  ] as const) {
    writeFileSync(fleet, JSON.stringify(variant));
    for (const kind of ['opnsense', 'openwrt'] as const) {
      const out = join(dir, `out-${kind}`);
      const host = kind === 'opnsense' ? 'fw.lab' : 'ap.lab';
      const r = await runDeaddrop(['snowflake', kind, '--fleet', fleet, '--host', host, '--out', out]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`${field.replaceAll('.', '\\.')}: .*cert-and-key\\.pem holds a PRIVATE KEY block`),
      );
      assert.equal(r.stdout, '');
      assert.ok(!existsSync(out), 'no script written');
      const stdout = await runDeaddrop(['snowflake', kind, '--fleet', fleet, '--host', host]);
      assert.equal(stdout.code, 2);
      assert.doesNotMatch(stdout.stdout, /PRIVATE KEY/);
    }
  }
  // a key alone, or a file with no certificate, is no recipient either
  for (const [file, message] of [
    [join(dir, 'k.pem'), /k\.pem holds a PRIVATE KEY block/],
    [join(dir, 'fleet.json'), /fleet\.json is not a PEM certificate/],
  ] as const) {
    writeFileSync(fleet, JSON.stringify({ ...config, recipients: [file] }));
    const r = await runDeaddrop(['snowflake', 'openwrt', '--fleet', fleet, '--host', 'ap.lab']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
});

test(
  'openwrt: a keep.d file keeps the script, its check, the crontab and /etc/deaddrop over a firmware upgrade',
  { skip: missingTools('busybox') },
  async () => {
    const { dir, fleet } = fleetDir();
    const out = join(dir, 'out');
    const r = await runDeaddrop(['snowflake', 'openwrt', '--fleet', fleet, '--host', 'ap.lab', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const files = (JSON.parse(r.stdout) as { files: { file: string; installPath: string }[] }).files;
    const keep = files.find((f) => f.installPath.startsWith('/lib/upgrade/keep.d/'));
    assert.ok(keep, `no keep.d file among ${files.map((f) => f.installPath).join(' ')}`);
    // the paths as sysupgrade reads them (blank lines and # comments dropped), with busybox's sed
    const sed = spawnSync('busybox', ['sed', '-ne', '/^[[:space:]]*$/d; /^#/d; p', keep.file], { encoding: 'utf8' });
    assert.equal(sed.status, 0, sed.stderr);
    const kept = sed.stdout.split('\n').filter(Boolean);
    // every file it installs (the keep file too, or the next upgrade would drop it), and the
    // netrc and state: else a firmware upgrade with "keep settings" silently ends the backups
    for (const f of files) assert.ok(kept.includes(f.installPath), `${f.installPath} not kept: ${kept.join(' ')}`);
    assert.ok(kept.includes('/etc/deaddrop/'), kept.join(' '));
  },
);

test('an EC recipient certificate is refused (exit 2, naming the file): openssl smime cannot encrypt to it', async () => {
  const { dir, fleet } = fleetDir();
  const gen = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=ec',
      '-keyout',
      'ec-k.pem',
      '-out',
      'ec.pem',
    ],
    { cwd: dir, encoding: 'utf8' },
  );
  assert.equal(gen.status, 0, gen.stderr);
  const config = JSON.parse(readFileSync(fleet, 'utf8')) as object;
  writeFileSync(fleet, JSON.stringify({ ...config, recipients: ['c.pem', join(dir, 'ec.pem')] }));
  for (const [kind, host] of [
    ['opnsense', 'fw.lab'],
    ['openwrt', 'ap.lab'],
  ] as const) {
    const out = join(dir, `out-${kind}`);
    const r = await runDeaddrop(['snowflake', kind, '--fleet', fleet, '--host', host, '--out', out]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /recipients: .*ec\.pem: EC certificates are not supported/);
    assert.ok(!existsSync(out), 'no script written');
  }
});
