// npm run bench -- check: `deaddrop check --deep` over ~5 GB of sets (CHECK_BENCH_BYTES) next to
// `openssl dgst -sha256` on the same files, measured in the same run. Targets (issue 8):
// speed >= 0.8x openssl's, peak RSS <= 80 MiB.
import { createHash, randomFillSync } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  fullManifestName,
  fullSignaturesName,
  fullVolumeName,
  storedName,
  sumsFileName,
} from '@deaddrop/client/format/names';
import { formatSums } from '@deaddrop/client/format/sums';
import { deaddropArgv, repoRoot } from '@deaddrop/test';
import { measure, printTable, verdict, type Measurement } from './lib.js';

const TOTAL = Number(process.env.CHECK_BENCH_BYTES ?? 5e9);
const VOLUME = Number(process.env.CHECK_BENCH_VOLUME ?? 200e6);
const RUNS = Number(process.env.CHECK_BENCH_RUNS ?? 2);
const dir = join(process.env.BENCH_DIR ?? join(repoRoot, '.bench'), 'check');
const root = join(dir, 'root');
const hostDir = join(root, 'bench.lab');
const TIME = 1_800_000_000;
const SEGMENT = 65536;

// A CMS-shaped file (the framing the checker walks: indefinite lengths, 64 KiB OCTET STRING
// segments, five end-of-contents) around random bytes drawn from a pool: fast to write, and as
// expensive to hash and walk as a real volume.
const PREFIX = Buffer.from(
  '30800609' + '2a864886f70d010703' + 'a0803080020100' + '3100' + '30800609' + '2a864886f70d010701' + '3000' + 'a080',
  'hex',
);
const pool = randomFillSync(Buffer.allocUnsafe(64 << 20));

function writeCmsLike(path: string, bytes: number, seed: number): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  const out = (b: Buffer) => {
    hash.update(b);
    writeSync(fd, b);
  };
  out(PREFIX);
  let offset = (seed * 7919 * SEGMENT) % (pool.length - SEGMENT);
  for (let left = bytes; left > 0; left -= SEGMENT) {
    const n = Math.min(SEGMENT, left);
    out(Buffer.from(n === SEGMENT ? [0x04, 0x83, 0x01, 0x00, 0x00] : [0x04, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]));
    out(pool.subarray(offset, offset + n));
    offset = (offset + n * 3) % (pool.length - SEGMENT);
  }
  out(Buffer.alloc(10));
  closeSync(fd);
  return hash.digest('hex');
}

const volumes = Math.max(1, Math.round(TOTAL / VOLUME));
const stamp = join(dir, `stamp-${volumes}x${VOLUME}`);
if (!existsSync(stamp)) {
  console.log(`generating ${volumes} volumes of ${VOLUME} bytes in ${hostDir} (once)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(hostDir, { recursive: true });
  const entries = [];
  const names = [
    ...Array.from({ length: volumes }, (_, i) => storedName(fullVolumeName(TIME, i + 1), { gzip: true, cms: true })),
    storedName(fullSignaturesName(TIME), { gzip: true, cms: true }),
    storedName(fullManifestName(TIME), { cms: true }),
  ];
  for (const [i, name] of names.entries())
    entries.push({ name, sha256: writeCmsLike(join(hostDir, name), name.includes('.difftar') ? VOLUME : 1e6, i) });
  writeFileSync(join(hostDir, sumsFileName(TIME)), formatSums(entries));
  writeFileSync(join(dir, 'htpasswd'), 'bench.lab:x\n');
  writeFileSync(stamp, '');
}
const files = readdirSync(hostDir).map((f) => join(hostDir, f));
const bytes = files.reduce((n, f) => n + statSync(f).size, 0);

function redirected(argv: string[]): [string, string[]] {
  return ['sh', ['-c', 'exec "$0" "$@" > /dev/null', ...argv]];
}

const OPENSSL = 'openssl dgst -sha256';
const commands: [string, [string, string[]]][] = [
  [OPENSSL, redirected(['openssl', 'dgst', '-sha256', ...files])],
  ['deaddrop check --deep', redirected([...deaddropArgv(), 'check', '--root', root, '--htpasswd', join(dir, 'htpasswd'), '--deep', '--json', '--now', String(TIME + 3600)])],
  ['deaddrop check --quick', redirected([...deaddropArgv(), 'check', '--root', root, '--htpasswd', join(dir, 'htpasswd'), '--quick', '--json', '--now', String(TIME + 3600)])],
]; // prettier-ignore

const best = new Map<string, Measurement>();
for (let i = 0; i < RUNS; i++)
  for (const [label, [cmd, args]] of commands) {
    const m = await measure(cmd, args);
    if (m.exitCode !== 0)
      throw new Error(`${label}: exit ${m.exitCode} (the bench tree must check ok): ${m.stderr.slice(-400)}`);
    const prev = best.get(label);
    best.set(label, {
      ...(prev && prev.wallSeconds <= m.wallSeconds ? prev : m),
      maxRssMiB: Math.max(prev?.maxRssMiB ?? 0, m.maxRssMiB),
    });
  }

const openssl = best.get(OPENSSL)!;
const mbps = (m: Measurement) => bytes / 1e6 / m.wallSeconds;
printTable(`check --deep over ${(bytes / 1e9).toFixed(2)} GB (${files.length} files), best of ${RUNS}`, [
  ['tool', 'wall s', 'MB/s', 'x openssl', 'peak RSS MiB', 'RSS <= 80 MiB', 'speed >= 0.8x'],
  ...[...best.entries()].map(([label, m]): (string | number)[] => [
    label,
    m.wallSeconds,
    mbps(m),
    mbps(m) / mbps(openssl),
    m.maxRssMiB,
    label === OPENSSL ? '-' : verdict(m.maxRssMiB <= 80),
    label === 'deaddrop check --deep' ? verdict(mbps(m) >= 0.8 * mbps(openssl)) : '-',
  ]),
]);
