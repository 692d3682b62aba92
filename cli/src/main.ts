import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { refuseRepeatedOptions, type DeclaredOptions } from '@deaddrop/common/cli';
import { describeError, exitCodeOf, UsageError } from '@deaddrop/common/errors';
import { printFailureJson } from '@deaddrop/common/output';
import { commandWord, isCommand, loadCommands } from './registry.js';

const require = createRequire(import.meta.url);

/**
 * `deaddrop rdiff` with plain arguments runs without yargs: scripts call it once per file, and
 * yargs takes ~25 ms to load and set up. Anything else, --help included, goes through yargs.
 */
async function runRdiffDirectly(argv: string[]): Promise<boolean> {
  if (argv[0] !== 'rdiff') return false;
  const { plainRdiffArgs } = await import('@deaddrop/client/rsync/plain-args');
  const args = plainRdiffArgs(argv.slice(1));
  if (args === undefined) return false;
  const { runRdiff } = await import('@deaddrop/client/rsync/command');
  await runRdiff(args);
  return true;
}

/** Whether the command line asks for --json (the last of --json, --json=BOOL, --no-json counts). */
function wantsJson(argv: string[]): boolean {
  let json = false;
  for (const a of argv) {
    if (a === '--') break;
    if (a === '--json' || a === '--json=true') json = true;
    else if (a === '--no-json' || a === '--json=false') json = false;
  }
  return json;
}

/** Middleware: yargs passes itself as a second argument, which @types/yargs leaves out. */
function refuseRepeated(args: Record<string, unknown>, y: { getOptions(): DeclaredOptions }): void {
  refuseRepeatedOptions(args, y.getOptions());
}

async function runWithYargs(argv: string[]): Promise<void> {
  // yargs shows the top-level help for `deaddrop typo --help`, exit 0: a script would not notice
  // (a word that is no command may be an option's value, as in `--config F status --help`)
  const word = commandWord(argv);
  const words = argv.filter((a) => !a.startsWith('-'));
  const help = argv.some((a) => a === '--help' || a === '-h');
  if (word !== undefined && help && !words.some((w) => w === 'help' || isCommand(w)))
    throw new UsageError(`unknown command "${word}": deaddrop --help lists the commands`);
  // yargs 17's CommonJS build: one file, so every command starts ~80 ms sooner and with ~4 MiB
  // less RSS than yargs 18, whose ESM modules load one by one and whose string-width builds an
  // Intl.Segmenter at load. (yargs 17's own ESM build wraps help text in the middle of words.)
  const yargs = require('yargs') as typeof import('yargs').default;
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  const cli = yargs(argv)
    .scriptName('deaddrop')
    .usage('deaddrop: write-only, encrypted, mirrored fleet backups\n\nUsage: deaddrop <command> [options]')
    .option('json', { type: 'boolean', describe: 'Machine output (JSON) on stdout', global: true })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'More log lines', global: true })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Only errors', global: true })
    .command(await loadCommands(argv))
    .middleware(refuseRepeated as (args: object) => void)
    .demandCommand(1, 'Name a command: deaddrop --help lists them.')
    .strict()
    .strictCommands()
    .recommendCommands()
    .epilog('Exit codes: 0 ok, 1 failed, 2 usage or configuration error, 3 another run holds the lock, 4 degraded.')
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(`${msg}\nRun with --help for usage.`);
    })
    .help()
    .alias('h', 'help')
    .version(pkg.version)
    .wrap(Math.min(110, process.stdout.columns || 100));
  await cli.parseAsync();
}

export async function main(argv: string[]): Promise<number> {
  try {
    if (!(await runRdiffDirectly(argv))) await runWithYargs(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    process.stderr.write(`deaddrop: ${describeError(err)}\n`);
    if (wantsJson(argv)) printFailureJson(err);
    if (process.env.DEADDROP_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    return exitCodeOf(err);
  }
}

// what yargs/helpers' hideBin does for node (that module loads all of yargs)
process.exitCode = await main(process.argv.slice(2));
