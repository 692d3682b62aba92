import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { fullManifestName, fullSignaturesName, fullVolumeName } from '@deaddrop/client/format/names';
import { makeGpgsmHome, makeTestRecipient, missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import type { CheckReport } from '../src/report.js';
import { flipByte } from './tree.js';

const NOW = 1_800_000_000;
const DAY = 86400;

function duplicity(dir: string, mode: string, time: number, target: string): void {
  const r = spawnSync(
    'duplicity',
    [
      mode,
      '--no-encryption',
      '--volsize',
      '1',
      '--archive-dir',
      join(dir, 'arch'),
      '--current-time',
      String(time),
      join(dir, 'src'),
      `file://${target}`,
    ],
    { env: { ...process.env, HOME: dir }, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
}

test(
  'real duplicity 0.8.22 output (legacy .gz sets): gaps, trailing volumes and flipped bytes via the plain manifest',
  { skip: missingTools('duplicity') },
  async () => {
    const dir = tempDir();
    const root = join(dir, 'root');
    const ok = join(root, 'legacy.lab');
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'src', 'big.bin'), randomBytes(2_500_000)); // 3 volumes of 1 MiB
    duplicity(dir, 'full', NOW - 2 * DAY, ok);
    writeFileSync(join(dir, 'src', 'new.txt'), 'changed\n');
    duplicity(dir, 'incremental', NOW - DAY, ok);
    const names = readdirSync(ok);
    const vol = (n: number) => names.find((f) => f.startsWith('duplicity-full.') && f.includes(`.vol${n}.difftar.gz`))!;
    assert.ok(vol(3) && !vol(4), `three full volumes: ${names.join(' ')}`);

    const variant = (host: string, change: (d: string) => void) => {
      cpSync(ok, join(root, host), { recursive: true });
      change(join(root, host));
    };
    variant('gap.lab', (d) => rmSync(join(d, vol(2))));
    variant('tail.lab', (d) => rmSync(join(d, vol(3)))); // only the manifest knows volume 3 existed
    variant('flip.lab', (d) => flipByte(join(d, vol(1)), 5000));
    variant('aborted.lab', (d) =>
      rmSync(
        join(
          d,
          names.find((f) => f.startsWith('duplicity-inc.') && f.endsWith('.manifest'))!,
        ),
      ),
    );
    // an old manifest with MD5 lines only, and a first volume that is the same tar in other
    // gzip bytes: only the manifest's MD5 can tell (duplicity's get_best_hash falls back to it)
    variant('md5.lab', (d) => {
      const manifest = join(
        d,
        names.find((f) => f.startsWith('duplicity-full.') && f.endsWith('.manifest'))!,
      );
      let volume = 0;
      const lines = readFileSync(manifest, 'latin1')
        .split('\n')
        .map((line) => {
          const v = /^Volume (\d+):/.exec(line);
          if (v) volume = Number(v[1]);
          if (!/^\s+Hash SHA1 /.test(line)) return line;
          return `    Hash MD5 ${createHash('md5')
            .update(readFileSync(join(d, vol(volume))))
            .digest('hex')}`;
        });
      writeFileSync(manifest, lines.join('\n'), 'latin1');
      writeFileSync(join(d, vol(1)), gzipSync(gunzipSync(readFileSync(join(d, vol(1)))), { level: 1 }));
    });
    // files no restore could read, and no hash vouches for: the signatures (the manifest does
    // not hash them), the manifest itself
    const fullSigs = names.find((f) => f.startsWith('duplicity-full-signatures.'))!;
    const fullManifest = names.find((f) => f.startsWith('duplicity-full.') && f.endsWith('.manifest'))!;
    variant('emptyman.lab', (d) => writeFileSync(join(d, fullManifest), ''));
    variant('zerosig.lab', (d) => writeFileSync(join(d, fullSigs), Buffer.alloc(100)));
    variant('cutsig.lab', (d) => truncateSync(join(d, fullSigs), statSync(join(d, fullSigs)).size - 100));
    const hosts = ['legacy', 'gap', 'tail', 'flip', 'aborted', 'md5', 'emptyman', 'zerosig', 'cutsig'];
    const htpasswd = join(dir, 'htpasswd');
    writeFileSync(htpasswd, hosts.map((h) => `${h}.lab:{SHA}x`).join('\n'));

    const check = async (now: number, extra: string[] = []) => {
      const r = await runDeaddrop([
        'check',
        '--root',
        root,
        '--htpasswd',
        htpasswd,
        '--json',
        '--now',
        String(now),
        ...extra,
      ]);
      const report = JSON.parse(r.stdout) as CheckReport;
      return {
        code: r.code,
        report,
        codes: Object.fromEntries(report.hosts.map((h) => [h.host, h.problems.map((p) => p.code).sort()])),
      };
    };
    const deep = await check(NOW);
    assert.equal(deep.code, 1);
    assert.deepEqual(deep.codes, {
      'aborted.lab': ['incomplete-set'],
      'cutsig.lab': ['truncated'],
      'emptyman.lab': ['bad-manifest', 'truncated'],
      // the flipped byte: the manifest's SHA1 and the gzip stream's CRC both see it
      'flip.lab': ['bad-framing', 'checksum-mismatch'],
      'gap.lab': ['missing-volume'],
      'legacy.lab': [],
      'md5.lab': ['checksum-mismatch'],
      'tail.lab': ['missing-volume'],
      'zerosig.lab': ['bad-framing'],
    });
    assert.deepEqual(
      deep.report.hosts.find((h) => h.host === 'zerosig.lab')!.problems.map((p) => [p.file, p.message]),
      [[fullSigs, `${fullSigs}: not a well-formed gzip file`]],
    );
    const md5 = deep.report.hosts.find((h) => h.host === 'md5.lab')!.problems[0]!;
    assert.deepEqual([md5.file, md5.message], [vol(1), `${vol(1)}: MD5 differs from the manifest`]);
    const legacy = deep.report.hosts.find((h) => h.host === 'legacy.lab')!;
    assert.deepEqual(
      [legacy.kind, legacy.lastFull, legacy.lastIncremental, legacy.chainLength],
      ['linux', NOW - 2 * DAY, NOW - DAY, 2],
    );
    assert.equal(deep.report.hosts.find((h) => h.host === 'tail.lab')!.problems[0]!.file, vol(3));

    // --quick does not hash or decompress: the flipped byte and the cut gzip go unseen, the
    // rest is from names, first bytes and the manifest
    const quick = await check(NOW, ['--quick']);
    assert.deepEqual(
      [quick.codes['flip.lab'], quick.codes['cutsig.lab'], quick.codes['zerosig.lab'], quick.codes['emptyman.lab']],
      [[], [], ['bad-framing'], ['bad-manifest', 'truncated']],
    );

    // forty days later the same healthy chain is stale on both counts
    const later = await check(NOW + 40 * DAY);
    assert.deepEqual(later.codes['legacy.lab'], ['stale-full', 'stale-incremental']);
  },
);

test(
  'legacy .gpg sets: gpgsm CMS is framing-checked (a cut volume is truncated), OpenPGP is left alone',
  { skip: missingTools('gpgsm', 'gpg', 'openssl') },
  async () => {
    const dir = tempDir();
    const root = join(dir, 'root');
    const r = await makeTestRecipient(join(dir, 'keys'), { cn: 'legacy gpgsm', bits: 2048 });
    const gpgsm = makeGpgsmHome(dir, r.certPath, r.plainKeyPath);
    const fpr = spawnSync('openssl', ['x509', '-in', r.certPath, '-noout', '-fingerprint', '-sha1'], {
      encoding: 'utf8',
    })
      .stdout.split('=')[1]!
      .trim()
      .replace(/:/g, '');
    const t = NOW - DAY;
    const names = [fullVolumeName(t, 1), fullVolumeName(t, 2), fullSignaturesName(t), fullManifestName(t)].map(
      (n) => `${n}.gpg`,
    );
    mkdirSync(join(dir, 'plain'));
    const hosts = ['gpgsm.lab', 'gpgsmcut.lab', 'gpgsmzero.lab', 'gpgsmempty.lab', 'pgp.lab'];
    for (const host of ['gpgsm.lab', 'gpgsmcut.lab', 'pgp.lab']) mkdirSync(join(root, host), { recursive: true });
    for (const name of names) {
      const plain = join(dir, 'plain', name);
      writeFileSync(plain, randomBytes(30_000));
      const enc = await gpgsm(['--encrypt', '--recipient', fpr, '--output', join(root, 'gpgsm.lab', name), plain]);
      assert.equal(enc.code, 0, enc.stderr);
      const pgp = spawnSync('gpg', [
        '--homedir',
        gpgsm.home,
        '--batch',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        'x',
        '--symmetric',
        '--output',
        join(root, 'pgp.lab', name),
        plain,
      ]);
      assert.equal(pgp.status, 0, pgp.stderr?.toString());
    }
    cpSync(join(root, 'gpgsm.lab'), join(root, 'gpgsmcut.lab'), { recursive: true });
    const cut = join(root, 'gpgsmcut.lab', names[1]!);
    truncateSync(cut, statSync(cut).size - 100);
    // a volume whose first block was lost (neither CMS nor OpenPGP), an empty signatures file
    cpSync(join(root, 'gpgsm.lab'), join(root, 'gpgsmzero.lab'), { recursive: true });
    const zeroed = join(root, 'gpgsmzero.lab', names[0]!);
    writeFileSync(zeroed, Buffer.concat([Buffer.alloc(4096), readFileSync(zeroed).subarray(4096)]));
    cpSync(join(root, 'pgp.lab'), join(root, 'gpgsmempty.lab'), { recursive: true });
    writeFileSync(join(root, 'gpgsmempty.lab', names[2]!), '');
    for (const host of hosts) for (const n of names) utimesSync(join(root, host, n), t, t);
    const htpasswd = join(dir, 'htpasswd');
    writeFileSync(htpasswd, hosts.map((h) => `${h}:x\n`).join(''));
    for (const mode of ['--deep', '--quick']) {
      const res = await runDeaddrop([
        'check',
        '--root',
        root,
        '--htpasswd',
        htpasswd,
        '--json',
        mode,
        '--now',
        String(NOW),
      ]);
      const report = JSON.parse(res.stdout) as CheckReport;
      assert.deepEqual(
        Object.fromEntries(report.hosts.map((h) => [h.host, h.problems.map((p) => `${p.code} ${p.file ?? ''}`)])),
        {
          'gpgsm.lab': [],
          'gpgsmcut.lab': [`truncated ${names[1]}`],
          'gpgsmempty.lab': [`truncated ${names[2]}`],
          'gpgsmzero.lab': [`bad-framing ${names[0]}`],
          'pgp.lab': [],
        },
        mode,
      );
    }
  },
);
