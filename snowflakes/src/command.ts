import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { generateSnowflake, type SnowflakeKindName } from './generate.js';

interface Args {
  kind: SnowflakeKindName;
  fleet: string;
  host: string;
  out?: string;
}

export const snowflakeCommand = {
  command: 'snowflake <kind>',
  describe: 'Generate the POSIX shell backup script for an OPNsense or OpenWrt host',
  builder: (y) =>
    y
      .positional('kind', { choices: ['opnsense', 'openwrt'] as const, demandOption: true })
      .option('fleet', { type: 'string', demandOption: true, describe: 'Fleet file (recipients, sinks, hosts)' })
      .option('host', { type: 'string', demandOption: true, describe: 'Host name in the fleet file' })
      .option('out', {
        type: 'string',
        describe:
          'Write the script and its companions (configd action + syshook, or crontab + check + keep.d list) here',
      })
      .epilog(
        'Without --out the script alone goes to stdout. Credentials stay in /etc/deaddrop/netrc\n' +
          '(mode 0600, curl --netrc-file format) on the host. Layout: docs/FORMAT.md "Snowflake files".',
      ),
  handler: handler<Args>((argv) => {
    const files = generateSnowflake(argv.kind, argv.fleet, argv.host);
    if (!argv.out) {
      if (argv.json) process.stdout.write(JSON.stringify({ files }) + '\n');
      else process.stdout.write(files[0]!.content);
      return 0;
    }
    mkdirSync(argv.out, { recursive: true });
    for (const f of files) {
      const path = join(argv.out, f.name);
      writeFileSync(path, f.content, { mode: f.mode });
      chmodSync(path, f.mode);
    }
    const listing = files.map((f) => ({
      file: join(argv.out!, f.name),
      installPath: f.installPath,
      mode: f.mode,
      ...(f.install ? { install: f.install } : {}),
    }));
    if (argv.json) process.stdout.write(JSON.stringify({ files: listing }) + '\n');
    else
      for (const f of listing)
        process.stdout.write(f.install ? `${f.file}: ${f.install}\n` : `${f.file} -> ${f.installPath}\n`);
    return 0;
  }),
} as DeaddropCommand;
