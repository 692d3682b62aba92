// npm run bench -- sink: 32 concurrent 64 MB uploads from 4 hosts into `deaddrop sink serve` and
// into nginx + dav-ext (generated config), measured in the same run. Targets (issue 7): every
// upload intact (sha256 on disk), sink peak RSS <= 80 MiB; throughput printed next to nginx.
// Ours fsyncs every upload before publishing it; nginx does not (its rename follows a plain write).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { repoRoot, startEmbeddedSink, startNginxSink, type RunningSink, type SinkOptions } from '@deaddrop/test';
import { printTable, verdict } from './lib.js';

const HOSTS = 4;
const UPLOADS = Number(process.env.SINK_BENCH_UPLOADS ?? 32);
const SIZE = Number(process.env.SINK_BENCH_BYTES ?? 64 * 1024 * 1024);
const dir = join(process.env.BENCH_DIR ?? join(repoRoot, '.bench'), 'sink');
const hosts = Object.fromEntries(Array.from({ length: HOSTS }, (_, i) => [`host${i}`, `pw${i}`]));
const block = randomBytes(1 << 20);

/** SIZE bytes made on the fly (every MiB differs); the digest is filled in at the end. */
function body(seed: number, digest: { hex?: string }): Readable {
  const h = createHash('sha256');
  return Readable.from(
    (async function* () {
      for (let sent = 0, i = 0; sent < SIZE; i++) {
        const chunk = Buffer.from(block.subarray(0, Math.min(block.length, SIZE - sent)));
        chunk.writeUInt32LE(seed * 100_000 + i, 0);
        h.update(chunk);
        sent += chunk.length;
        yield chunk;
      }
      digest.hex = h.digest('hex');
    })(),
  );
}

function upload(
  sink: RunningSink,
  host: string,
  name: string,
  seed: number,
  digest: { hex?: string },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: sink.port,
        method: 'PUT',
        path: `/webdav/${host}/${name}`,
        agent: false,
        headers: {
          authorization: 'Basic ' + Buffer.from(`${host}:${hosts[host]}`).toString('base64'),
          'content-length': String(SIZE),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    body(seed, digest).pipe(req);
  });
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Peak RSS (VmHWM) of a process, in MiB. */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((p) => {
      try {
        return Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid;
      } catch {
        return false;
      }
    });
}

interface Result {
  seconds: number;
  mbPerSecond: number;
  intact: number;
  rssMiB: number;
  idleRssMiB: number;
}

async function run(label: string, start: (o: SinkOptions) => Promise<RunningSink>): Promise<Result> {
  const root = join(dir, label);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  // every host uploads from 127.0.0.1: one address's connection cap must hold all of them
  const extraArgs = ['--max-uploads-per-host', String(UPLOADS), '--max-conns', String(UPLOADS)];
  const sink = await start({ root, hosts, extraArgs });
  const idleRssMiB = peakRssMiB(sink.pid); // the started server before any upload
  const digests = Array.from({ length: UPLOADS }, () => ({}) as { hex?: string });
  const t0 = process.hrtime.bigint();
  const statuses = await Promise.all(
    digests.map((d, i) => upload(sink, `host${i % HOSTS}`, `vol${i}.difftar.gz.p7m`, i, d)),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const pids = sink.kind === 'nginx' ? [sink.pid, ...childPids(sink.pid)] : [sink.pid];
  const rssMiB = Math.max(...pids.map(peakRssMiB));
  await sink.stop();
  let intact = 0;
  for (const [i, d] of digests.entries()) {
    const path = join(root, `host${i % HOSTS}`, `vol${i}.difftar.gz.p7m`);
    if (statuses[i] === 201 && (await sha256(path)) === d.hex) intact++;
  }
  rmSync(root, { recursive: true, force: true });
  return { seconds, mbPerSecond: (UPLOADS * SIZE) / 1e6 / seconds, intact, rssMiB, idleRssMiB };
}

console.log(`${UPLOADS} concurrent uploads of ${SIZE / 2 ** 20} MiB from ${HOSTS} hosts`);
const ours = await run('embedded', startEmbeddedSink);
const nginx = await run('nginx', startNginxSink);
printTable('sink: concurrent uploads (peak RSS: the server process; nginx: largest of master/workers)', [
  ['server', 'wall s', 'MB/s', 'intact', 'peak RSS MiB', 'idle RSS MiB'],
  ['deaddrop sink serve', ours.seconds, ours.mbPerSecond, `${ours.intact}/${UPLOADS}`, ours.rssMiB, ours.idleRssMiB],
  ['nginx + dav-ext', nginx.seconds, nginx.mbPerSecond, `${nginx.intact}/${UPLOADS}`, nginx.rssMiB, nginx.idleRssMiB],
]);
printTable('targets', [
  ['target', 'value', 'verdict'],
  ['all uploads intact (sha256)', `${ours.intact}/${UPLOADS}`, verdict(ours.intact === UPLOADS)],
  ['sink peak RSS <= 80 MiB', ours.rssMiB, verdict(ours.rssMiB <= 80)],
  ['throughput vs nginx (reported)', ours.mbPerSecond / nginx.mbPerSecond, '-'],
]);
process.exit(0);
