// npm run bench -- snowflake: the generated OPNsense script sending one zfs stream
// (SNOWFLAKE_BENCH_BYTES, default 512 MB) to two embedded sinks, next to the hand-written way it
// replaces (send, encrypt, hash and upload once per sink, twice), measured
// in the same run. The issue sets no speed number; the target here is "one encryption per stream":
// wall time <= the per-sink pipeline's, with the script's own processes staying small.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deaddropArgv, repoRoot, startEmbeddedSink } from '@deaddrop/test';
import { measure, printTable, verdict } from './lib.js';

const BYTES = Number(process.env.SNOWFLAKE_BENCH_BYTES ?? 512 * 1024 * 1024);
const dir = join(process.env.BENCH_DIR ?? join(repoRoot, '.bench'), 'snowflake');
const HOST = 'fw.lab';
const PASSWORD = 'bench-password';

rmSync(dir, { recursive: true, force: true });
mkdirSync(join(dir, 'bin'), { recursive: true });
const hostRoot = join(dir, 'root');
mkdirSync(join(hostRoot, 'etc/deaddrop'), { recursive: true });
mkdirSync(join(hostRoot, 'conf'), { recursive: true });
writeFileSync(join(hostRoot, 'conf/config.xml'), '<opnsense/>\n');
writeFileSync(join(hostRoot, 'etc/deaddrop/netrc'), `machine 127.0.0.1 login ${HOST} password ${PASSWORD}\n`, {
  mode: 0o600,
});
const key = spawnSync(
  'openssl',
  ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=bench', '-keyout', 'k.pem', '-out', 'c.pem'],
  { cwd: dir },
);
if (key.status !== 0) throw new Error(key.stderr.toString());
// zfs stand-in: snapshots in a file, `send` writes BYTES of cheap text
const zfs = `#!/bin/sh
s=${dir}/snapshots; touch "$s"; cmd=$1; shift
case "$cmd" in
  list) cat "$s" ;;
  snapshot) echo "$2" >> "$s" ;;
  destroy) grep -vx "$2" "$s" > "$s.n"; mv "$s.n" "$s" ;;
  rename) sed "s|^$2\\$|$3|" "$s" > "$s.n"; mv "$s.n" "$s" ;;
  send) yes zfs-stream-bytes | head -c ${BYTES} ;;
esac
`;
for (const [name, text] of [
  ['zfs', zfs],
  ['logger', '#!/bin/sh\n'],
] as const) {
  writeFileSync(join(dir, 'bin', name), text);
  chmodSync(join(dir, 'bin', name), 0o755);
}

const sinks = [
  await startEmbeddedSink({ hosts: { [HOST]: PASSWORD }, maxBody: '100GB' }),
  await startEmbeddedSink({ hosts: { [HOST]: PASSWORD }, maxBody: '100GB' }),
];
try {
  const fleet = join(dir, 'fleet.json');
  writeFileSync(
    fleet,
    JSON.stringify({
      recipients: [join(dir, 'c.pem')],
      sinks: sinks.map((s, i) => ({ name: `s${i}`, url: s.url })),
      hosts: [{ name: HOST, kind: 'opnsense' }],
    }),
  );
  const [node, ...pre] = deaddropArgv();
  const gen = spawnSync(node!, [
    ...pre,
    'snowflake',
    'opnsense',
    '--fleet',
    fleet,
    '--host',
    HOST,
    '--out',
    join(dir, 'out'),
  ]);
  if (gen.status !== 0) throw new Error(gen.stderr.toString());
  const env = { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, DEADDROP_ROOT: hostRoot, TMPDIR: dir };

  const ours = await measure('dash', [join(dir, 'out/deaddrop-opnsense.sh')], {
    env: { ...env, DEADDROP_DAY: '15', DEADDROP_STAMP: '20260101T000000Z' },
  });
  if (ours.exitCode !== 0) throw new Error(`script failed: ${ours.stderr}`);

  // the hand-written way, doing the same work per sink: send, encrypt, hash (the .sha256), upload
  const perSink = sinks
    .map(
      (s) =>
        `rm -f ${dir}/f; mkfifo ${dir}/f; sha256sum < ${dir}/f > ${dir}/sum-${s.port} &\n` +
        `yes zfs-stream-bytes | head -c ${BYTES} | openssl smime -encrypt -binary -aes256 -stream -outform DER ${dir}/c.pem` +
        ` | tee ${dir}/f | curl -fsS --netrc-file ${hostRoot}/etc/deaddrop/netrc -T - ${s.url}${HOST}/stock-${s.port}.zfs.p7m\nwait`,
    )
    .join('\n');
  const stock = await measure('sh', ['-c', `set -e\n${perSink}`], { env });
  if (stock.exitCode !== 0) throw new Error(`stock pipeline failed: ${stock.stderr}`);

  const ratio = ours.wallSeconds / stock.wallSeconds;
  printTable(`snowflake: ${(BYTES / 2 ** 20).toFixed(0)} MiB zfs stream to 2 sinks`, [
    ['run', 'wall s', 'user s', 'sys s', 'peak RSS MiB'],
    ['generated script (1 encryption, tee)', ours.wallSeconds, ours.userSeconds, ours.systemSeconds, ours.maxRssMiB],
    [
      'per sink: send | openssl | tee sha256 | curl (x2)',
      stock.wallSeconds,
      stock.userSeconds,
      stock.systemSeconds,
      stock.maxRssMiB,
    ],
  ]);
  printTable('targets', [
    ['target', 'value', 'verdict'],
    ['script wall / per-sink wall <= 1.0', ratio, verdict(ratio <= 1)],
    ['script peak RSS <= 64 MiB (any one process)', ours.maxRssMiB, verdict(ours.maxRssMiB <= 64)],
  ]);
} finally {
  for (const s of sinks) await s.stop();
  rmSync(dir, { recursive: true, force: true });
}
