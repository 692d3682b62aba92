import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { UsageError } from '@deaddrop/common/errors';
import { Logger } from '@deaddrop/common/log';
import { acquirePidLock } from '@deaddrop/common/pid-lock';
import { parseDuration, parseSize } from '@deaddrop/common/units';
import { accessLogWriter, formatAccessLine } from '../access-log.js';
import { DEFAULT_MAX_CONNS } from '../conn-limit.js';
import { HtpasswdStore } from '../htpasswd.js';
import { formatHostPort, parseListen } from '../listen.js';
import { hostNameProblem } from '../names.js';
import { prepareDirs, removeStaleTemps, SERVE_LOCK_NAME } from '../serve-setup.js';
import { SinkServer } from '../server.js';

interface Args {
  root: string;
  htpasswd: string;
  listen: string[];
  prefix: string;
  temp?: string;
  maxBody: string;
  maxUploadsPerHost: number;
  maxConns: number;
  headerTimeout: string;
  idleTimeout: string;
  shutdownGrace: string;
  tlsCert?: string;
  tlsKey?: string;
  accessLog?: string;
  reader?: string[];
}

export const serveCommand = {
  command: 'serve',
  describe: 'Run the embedded write-only WebDAV sink (PUT once + PROPFIND, own directory only; --reader accounts read)',
  builder: (y) =>
    y
      .option('root', { type: 'string', demandOption: true, describe: 'Sink root: files land at ROOT/HOST/NAME' })
      .option('htpasswd', { type: 'string', demandOption: true, describe: 'Apache htpasswd file (reloaded on change)' })
      .option('listen', {
        type: 'string',
        array: true,
        default: ['[::]:8084'],
        describe: 'ADDR:PORT or [IPv6]:PORT, repeatable; port 0 picks a free one',
      })
      .option('prefix', { type: 'string', default: '/webdav/', describe: 'URL path the host directories live under' })
      .option('temp', {
        type: 'string',
        describe: 'Upload temp directory on the same file system (default ROOT/.deaddrop-tmp)',
      })
      .option('max-body', { type: 'string', default: '1TB', describe: 'Largest accepted PUT body (413 above)' })
      .option('max-uploads-per-host', { type: 'number', default: 8, describe: 'Concurrent PUTs per host (429 above)' })
      .option('max-conns', {
        type: 'number',
        default: DEFAULT_MAX_CONNS,
        describe: 'Open connections per client address, as nginx limit_conn (more are closed at once; 0 = no limit)',
      })
      .option('header-timeout', { type: 'string', default: '30s', describe: 'Time allowed for a request head' })
      .option('idle-timeout', { type: 'string', default: '120s', describe: 'Drop a connection idle this long' })
      .option('shutdown-grace', { type: 'string', default: '30s', describe: 'On SIGTERM, wait this long for uploads' })
      .option('tls-cert', { type: 'string', describe: 'Serve HTTPS with this PEM certificate (chain)' })
      .option('tls-key', { type: 'string', describe: 'PEM private key for --tls-cert' })
      .option('access-log', { type: 'string', describe: 'Append access lines here (default stderr); no secrets' })
      .option('reader', {
        type: 'string',
        array: true,
        describe:
          'htpasswd user that may GET and PROPFIND every host directory and write nothing, for ' +
          '`deaddrop restore --from URL` (repeatable; default: none, GET refused for all)',
      }),
  handler: handler<Args>(async (argv) => {
    const log = new Logger({ json: argv.json, level: argv.quiet ? 'error' : argv.verbose ? 'debug' : 'info' });
    const prefix = argv.prefix;
    if (!/^\/([A-Za-z0-9._-]+\/)*$/.test(prefix)) throw new UsageError(`--prefix ${prefix}: must start and end with /`);
    if (Boolean(argv.tlsCert) !== Boolean(argv.tlsKey)) throw new UsageError('--tls-cert and --tls-key go together');
    if (!Number.isInteger(argv.maxConns) || argv.maxConns < 0)
      throw new UsageError(`--max-conns ${argv.maxConns}: expected a whole number (0 = no limit)`);
    const listens = argv.listen.map(parseListen);
    const readers = new Set(argv.reader ?? []);
    for (const r of readers) {
      const problem = hostNameProblem(r);
      if (problem) throw new UsageError(`--reader ${r}: ${problem.replace(/^host name/, 'user name')}`);
    }
    const { root, tempDir } = await prepareDirs(argv.root, argv.temp);
    const htpasswd = new HtpasswdStore(argv.htpasswd);
    await htpasswd.load();
    // one server per temp directory: its start-up removes every *.part there
    const lock = await acquirePidLock(join(tempDir, SERVE_LOCK_NAME), 'another sink server');
    const stale = await removeStaleTemps(tempDir);
    if (stale) log.warn(`removed ${stale} temp file(s) of interrupted uploads from ${tempDir}`);
    const tls = argv.tlsCert ? { cert: await readFile(argv.tlsCert), key: await readFile(argv.tlsKey!) } : undefined;
    const access = accessLogWriter(argv.accessLog);
    const server = new SinkServer({
      root,
      tempDir,
      prefix,
      htpasswd,
      maxBodyBytes: parseSize(argv.maxBody, '--max-body'),
      maxUploadsPerHost: argv.maxUploadsPerHost,
      maxConnsPerAddress: argv.maxConns,
      headerTimeoutMs: parseDuration(argv.headerTimeout, '--header-timeout') * 1000,
      idleTimeoutMs: parseDuration(argv.idleTimeout, '--idle-timeout') * 1000,
      tls,
      readers,
      onAccess: (e) => access.write(formatAccessLine(e)),
      onError: (m) => log.error(m),
    });
    const scheme = tls ? 'https' : 'http';
    for (const l of listens) {
      const addr = await server.listen(l.host, l.port).catch((err: Error) => {
        throw new UsageError(`--listen ${formatHostPort(l.host, l.port)}: ${err.message}`);
      });
      const hostPort = formatHostPort(addr.address, addr.port);
      const url = `${scheme}://${hostPort}${prefix}`;
      // The machine-readable line test helpers and scripts wait for.
      if (argv.json) process.stdout.write(JSON.stringify({ listening: hostPort, url }) + '\n');
      else log.info(`listening on ${url}`);
    }
    log.info(`serving ${root} (temp ${tempDir})`);
    for (const r of readers) {
      if (!htpasswd.has(r)) log.warn(`--reader ${r}: no such user in ${argv.htpasswd} (yet)`);
      if (await isDirectory(join(root, r)))
        log.warn(`--reader ${r}: ${join(root, r)} exists; that host can no longer upload`);
    }

    const grace = parseDuration(argv.shutdownGrace, '--shutdown-grace') * 1000;
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    log.info(`${signal}: no new connections; waiting up to ${grace / 1000}s for uploads`);
    const { finished, discarded } = await server.shutdown(grace);
    log.info(`stopped: ${finished} upload(s) finished, ${discarded} discarded`);
    await htpasswd.close();
    await access.close();
    await lock.release();
  }),
} as DeaddropCommand;

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}
