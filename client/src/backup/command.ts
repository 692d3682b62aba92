import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { DEFAULT_CLIENT_CONFIG } from '@deaddrop/common/config/paths';
import { UsageError } from '@deaddrop/common/errors';
import { Logger } from '@deaddrop/common/log';
import { printFailureJson } from '@deaddrop/common/output';
import { formatBytes, parseSize } from '@deaddrop/common/units';

interface Args {
  full?: boolean;
  incremental?: boolean;
  config: string;
  dryRun?: boolean;
  volumeSize?: string;
}

export const backupCommand = {
  command: 'backup',
  describe: 'Back up this host: a duplicity-compatible full or incremental set, gzip + CMS, to every sink',
  builder: (y) =>
    y
      .option('full', { type: 'boolean', describe: 'Start a new chain with a full backup' })
      .option('incremental', { type: 'boolean', describe: 'Incremental on the local chain (full if there is none)' })
      .conflicts('full', 'incremental')
      .option('config', { type: 'string', default: DEFAULT_CLIENT_CONFIG, describe: 'Client configuration file' })
      .option('dry-run', {
        type: 'boolean',
        describe: 'Scan and compare only; write, clean and send nothing (says what a real run would clean)',
      })
      .option('volume-size', { type: 'string', describe: 'Volume size (e.g. 200MB), overrides volumeSize' })
      .epilog(
        'Default: full when there is no local chain or the last full is older than fullEvery, else incremental.\n' +
          'With --json, stdout is JSON lines: one per warning, the last one the result ' +
          '({"result":"failed"|"locked","exitCode":N,"error":"..."} when the run stops on an error).\n' +
          'Exit codes: 0 ok, 1 failed, 2 configuration error, 3 another run holds the lock, 4 some sinks missed the set.',
      ),
  handler: handler<Args>(async (argv) => {
    const { loadClientConfig } = await import('@deaddrop/common/config/client');
    const { runBackup } = await import('./run.js');
    const { RunReporter } = await import('../ops/unattended.js');
    const { progressReporter } = await import('../ops/progress.js');
    const { uploadProgressReporter } = await import('../ops/upload-progress.js');
    const { InterruptedError, onInterrupt } = await import('../ops/interrupt.js');
    const { loadState } = await import('./state.js');
    const config = loadClientConfig(argv.config);
    const log = new Logger({ json: argv.json, level: argv.quiet ? 'error' : argv.verbose ? 'debug' : 'info' });
    const volumeSize = argv.volumeSize === undefined ? undefined : parseSize(argv.volumeSize, '--volume-size');
    if (argv.volumeSize !== undefined && !volumeSize) throw new UsageError('--volume-size must be more than 0');
    // Metrics and pings are about real runs: a dry run leaves them alone.
    const ops = argv.dryRun ? undefined : await RunReporter.start({ config, log });
    const progress = progressReporter({ log, quiet: argv.quiet, expectedBytes: ops?.expectedBytes });
    // one line at a time: uploads that start during the walk show once the walk is done
    let walked = false;
    const uploads = uploadProgressReporter({ log, quiet: argv.quiet, held: () => !walked });
    // A state that cannot be used is left to be replaced by a new chain, but not in silence.
    const state = await loadState(config.archiveDir);
    if ('problem' in state)
      log.warn(`${state.problem}: ${argv.dryRun ? 'a real run would start' : 'starting'} a new chain (a full backup)`);
    // A signal stops the run at its next step; it records itself as failed (runBackup). Only a
    // run stuck past the grace time is reported from here, without a record.
    const interruption = onInterrupt(async (err) => {
      log.clearProgress();
      log.error(`${err.message}: the run did not stop in time, giving up`);
      await ops?.finish({ kind: 'thrown', error: err }, { hurried: true });
      // what cli/src/main.ts prints for an error, as the process exits without it
      process.stderr.write(`deaddrop: ${err.message}\n`);
      if (argv.json) printFailureJson(err);
    });
    interruption.signal.addEventListener('abort', () => {
      log.clearProgress();
      log.warn(`${(interruption.signal.reason as Error).message}: stopping the backup`);
    });
    let r: Awaited<ReturnType<typeof runBackup>>;
    try {
      r = await runBackup({
        config,
        configFile: argv.config,
        mode: argv.full ? 'full' : argv.incremental ? 'incremental' : 'auto',
        dryRun: argv.dryRun,
        volumeSize,
        log,
        onProgress: (p) => {
          if (ops) ops.scan = p;
          progress(p);
          walked ||= p.done;
        },
        onUploadProgress: uploads,
        signal: interruption.signal,
      });
    } catch (err) {
      interruption.dispose();
      log.clearProgress();
      await ops?.finish({ kind: 'thrown', error: err }, { hurried: err instanceof InterruptedError });
      // stopped: what it left under way (an upload, a sink that never answers) is not waited
      // for; the CLI prints the error first, in this turn of the event loop
      if (err instanceof InterruptedError) setImmediate(() => process.exit(err.exitCode));
      throw err;
    }
    interruption.dispose();
    await ops?.finish({ kind: 'finished', run: r });
    if (argv.json) process.stdout.write(JSON.stringify(r) + '\n');
    else if (r.result === 'dry-run') {
      const s = r.stats as { new: number; changed: number; deleted: number };
      process.stdout.write(
        `dry run: ${r.type} of ${r.localdir}: ${s.new} new, ${s.changed} changed, ${s.deleted} deleted\n`,
      );
    } else if (!argv.quiet)
      process.stdout.write(
        `${r.result}: ${r.set}: ${r.volumes} volume(s), ${formatBytes(r.storedBytes)} stored, ` +
          `${r.problems.length} problem(s), ${r.seconds.toFixed(1)} s\n`,
      );
    return r.exitCode;
  }),
} as DeaddropCommand;
