import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { printResult } from '@deaddrop/common/output';
import { DeaddropError, UsageError } from '@deaddrop/common/errors';
import { parseSize } from '@deaddrop/common/units';
import { DEFAULT_MAX_CONNS, nginxConfig, nginxWrapperConfig } from '../nginx-config.js';

interface Args {
  root: string;
  htpasswd: string;
  listen: string[];
  temp?: string;
  prefix: string;
  maxBody: string;
  rate: number;
  maxConns: number;
  check?: boolean;
  reader?: string[];
}

/** Run `nginx -t` on a throwaway nginx.conf that includes the block; the error text or undefined. */
function nginxTest(block: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'deaddrop-nginx-check-'));
  try {
    writeFileSync(join(dir, 'nginx.conf'), nginxWrapperConfig(block, dir));
    const r = spawnSync('nginx', ['-t', '-q', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
      encoding: 'utf8',
    });
    if (r.error) throw new DeaddropError(`--check: cannot run nginx: ${r.error.message}`);
    return r.status === 0 ? undefined : (r.stderr || r.stdout).trim().split('\n').pop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const nginxConfigCommand = {
  command: 'nginx-config',
  describe: 'Print the hardened nginx (+ dav-ext) server block for a write-only sink',
  builder: (y) =>
    y
      .option('root', { type: 'string', demandOption: true, describe: 'Sink root: files at ROOT/HOST/NAME' })
      .option('htpasswd', { type: 'string', demandOption: true, describe: 'Apache htpasswd file' })
      .option('listen', { type: 'string', array: true, demandOption: true, describe: 'ADDR:PORT (repeatable)' })
      .option('temp', {
        type: 'string',
        describe: "client_body_temp_path on ROOT's file system (default ROOT/.deaddrop-tmp)",
      })
      .option('prefix', { type: 'string', default: '/webdav/', describe: 'URL path of the host directories' })
      .option('max-body', { type: 'string', default: '0', describe: 'client_max_body_size (0 = unlimited)' })
      .option('rate', { type: 'number', default: 20, describe: 'limit_req requests per second per address' })
      .option('max-conns', {
        type: 'number',
        default: DEFAULT_MAX_CONNS,
        describe: 'limit_conn requests in progress per address (0 = no limit)',
      })
      .option('check', { type: 'boolean', describe: 'Validate the block with nginx -t first' })
      .option('reader', {
        type: 'string',
        array: true,
        describe: 'htpasswd user that may GET and PROPFIND every host directory, for restores (repeatable)',
      }),
  handler: handler<Args>(async (argv) => {
    // at least one segment: the server block answers 404 for `location /` outside the prefix
    if (!/^\/([A-Za-z0-9._-]+\/)+$/.test(argv.prefix))
      throw new UsageError(`--prefix ${argv.prefix}: must start and end with / and name a directory (e.g. /webdav/)`);
    let block: string;
    try {
      block = nginxConfig({
        root: resolve(argv.root),
        htpasswd: resolve(argv.htpasswd),
        listen: argv.listen,
        tempDir: argv.temp ? resolve(argv.temp) : undefined,
        prefix: argv.prefix,
        maxBodyBytes: parseSize(argv.maxBody, '--max-body'),
        rate: argv.rate,
        maxConns: argv.maxConns,
        readers: argv.reader ?? [],
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (argv.check) {
      const problem = nginxTest(block);
      if (problem) throw new DeaddropError(`nginx -t refused the generated config: ${problem}`);
    }
    printResult(argv.json, { config: block, checked: Boolean(argv.check) }, (r) => r.config.trimEnd());
  }),
} as DeaddropCommand;
