// npm run bench -- cms: CMS encryption throughput and peak RSS for a 1 GiB stream, deaddrop next
// to `openssl smime -encrypt -stream` measured in the same run. Targets (issue 2): peak RSS
// <= 80 MiB whatever the input size; throughput >= 0.8x openssl's.
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { deaddropArgv, repoRoot } from '@deaddrop/test';
import { measure, printTable, verdict, type Measurement } from './lib.js';

const SIZE = Number(process.env.CMS_BENCH_BYTES ?? 1024 ** 3);
const RUNS = Number(process.env.CMS_BENCH_RUNS ?? 3);
const dir = join(process.env.BENCH_DIR ?? join(repoRoot, '.bench'), 'cms');
mkdirSync(dir, { recursive: true });

const input = join(dir, `input-${SIZE}.bin`);
if (!existsSync(input) || statSync(input).size !== SIZE) {
  console.log(`generating ${input} (${SIZE} random bytes, once)`);
  const fd = openSync(input, 'w');
  const buf = Buffer.allocUnsafe(1 << 20);
  for (let left = SIZE; left > 0; left -= buf.length) writeSync(fd, randomFillSync(buf), 0, Math.min(left, buf.length));
  closeSync(fd);
}
const cert = join(dir, 'recipient.pem');
const key = join(dir, 'recipient.key');
if (!existsSync(cert)) {
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:3072', '-nodes', '-keyout', key, '-out', cert,
    '-days', '3650', '-subj', '/CN=bench', '-addext', 'keyUsage=critical,keyEncipherment,dataEncipherment']); // prettier-ignore
  if (r.status !== 0) throw new Error(`openssl req: ${r.stderr}`);
}
const encrypted = join(dir, 'encrypted.p7m');

/** Run `argv` with stdout to /dev/null (and stdin from a file): sh execs it, so GNU time sees the tool itself. */
function redirected(argv: string[], stdin?: string): [string, string[]] {
  const redirect = stdin ? ` < '${stdin}'` : '';
  return ['sh', ['-c', `exec "$0" "$@" > /dev/null${redirect}`, ...argv]];
}

/**
 * Best wall time (and highest peak RSS) of each command over RUNS rounds; the rounds interleave
 * the tools so a busy moment on the machine hits all of them alike.
 */
async function bestOf(commands: [string, [string, string[]]][]): Promise<Map<string, Measurement>> {
  const results = new Map<string, Measurement>();
  for (let i = 0; i < RUNS; i++) {
    for (const [label, [cmd, args]] of commands) {
      const m = await measure(cmd, args);
      if (m.exitCode !== 0) throw new Error(`${label}: exit ${m.exitCode}: ${m.stderr.slice(-400)}`);
      const prev = results.get(label);
      const rss = Math.max(prev?.maxRssMiB ?? 0, m.maxRssMiB);
      results.set(label, { ...(prev && prev.wallSeconds <= m.wallSeconds ? prev : m), maxRssMiB: rss });
    }
  }
  return results;
}

const cli = deaddropArgv();
const library = `import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createEncryptStream, loadRecipients } from '${join(repoRoot, 'keys', 'dist', 'index.js')}';
await pipeline(createReadStream(process.argv[1], { highWaterMark: 256 * 1024 }), createEncryptStream(await loadRecipients([process.argv[2]])), createWriteStream('/dev/null'));`;

const OPENSSL = 'openssl smime -encrypt -stream';
const encryptRuns = await bestOf([
  [OPENSSL, redirected(['openssl', 'smime', '-encrypt', '-binary', '-aes256', '-stream', '-outform', 'DER', '-in', input, cert])],
  ['deaddrop encrypt FILE', redirected([...cli, 'encrypt', '--to', cert, input])],
  ['deaddrop encrypt < stdin', redirected([...cli, 'encrypt', '--to', cert], input)],
  ['@deaddrop/keys library only', redirected([process.execPath, '--input-type=module', '-e', library, input, cert])],
]); // prettier-ignore
const rows = [...encryptRuns.entries()];
const openssl = encryptRuns.get(OPENSSL)!;
// decryption, for restore planning (no target; openssl -decrypt would hold the whole GiB in memory)
const enc = spawnSync('sh', ['-c', `exec "$0" "$@" > '${encrypted}'`, ...cli, 'encrypt', '--to', cert, input]);
if (enc.status !== 0) throw new Error(`encrypt for the decrypt run: ${enc.stderr}`);
const decrypt = (await bestOf([['decrypt', redirected([...cli, 'decrypt', '--key', key, encrypted])]])).get('decrypt')!;
rmSync(encrypted); // the input stays for the next run; this is rewritten each time

const mbps = (m: Measurement) => SIZE / 1e6 / m.wallSeconds;
printTable(`CMS encrypt, ${(SIZE / 1024 ** 3).toFixed(2)} GiB random input, best of ${RUNS} (stdout -> /dev/null)`, [
  ['tool', 'wall s', 'MB/s', 'x openssl', 'peak RSS MiB', 'RSS <= 80 MiB', 'speed >= 0.8x'],
  ...rows.map(([label, m]): (string | number)[] => [
    label,
    m.wallSeconds,
    mbps(m),
    mbps(m) / mbps(openssl),
    m.maxRssMiB,
    label === OPENSSL ? '-' : verdict(m.maxRssMiB <= 80),
    label === OPENSSL ? '-' : verdict(mbps(m) >= 0.8 * mbps(openssl)),
  ]),
]);
printTable('CMS decrypt (information)', [
  ['tool', 'wall s', 'MB/s', 'peak RSS MiB'],
  ['deaddrop decrypt FILE', decrypt.wallSeconds, mbps(decrypt), decrypt.maxRssMiB],
]);
