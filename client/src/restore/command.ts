import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { printResult } from '@deaddrop/common/output';
import { formatBytes } from '@deaddrop/common/units';
import { restoreInputs, sourceOptions, type SourceArgs } from './source-options.js';

interface Args extends SourceArgs {
  to: string;
  time?: string;
  path?: string[];
  force?: boolean;
}

export const restoreCommand = {
  command: 'restore',
  describe: 'Restore a host at a point in time (or some paths) from a sink directory or URL, into DEST',
  builder: (y) =>
    y
      .options(sourceOptions('needed for encrypted sets'))
      .option('to', { type: 'string', demandOption: true, describe: 'Destination directory (empty unless --force)' })
      .option('time', {
        type: 'string',
        describe: 'Restore as of this time (ISO date, 20261123T030000Z, epoch, 3D); default latest',
      })
      .option('path', {
        type: 'string',
        array: true,
        describe:
          'Restore only this subtree (repeatable), to DEST/PATH: relative to the backup root, or absolute under it',
      })
      .option('force', {
        type: 'boolean',
        describe: "Restore into a non-empty DEST (the state's objects replace DEST's; DEST's others stay)",
      })
      .epilog(
        "Every volume is checked against its manifest SHA-1 and the set's sums file; content is staged and moved\n" +
          'into place only when its volume checked out. Owners, devices: when run as root.\n' +
          '--from URL reads an embedded sink with a reader account (sink serve --reader): docs/RESTORE.md.',
      ),
  handler: handler<Args>(async (argv) => {
    const { runRestore, warningsBefore } = await import('./restore.js');
    const { withRestoreProgress } = await import('./progress.js');
    const inputs = await restoreInputs(argv);
    const r = await withRestoreProgress(argv, (onProgress) =>
      runRestore({
        ...inputs,
        dest: argv.to,
        paths: argv.path ?? [],
        force: argv.force,
        onProgress,
      }),
    ).catch((err: unknown) => {
      // a failed run has no report: what it did before failing (e.g. removed a staging directory) is said here
      for (const w of warningsBefore(err)) process.stderr.write(`warning: ${w}\n`);
      throw err;
    });
    if (!argv.json) for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    printResult(argv.json, r, (x) =>
      argv.quiet
        ? []
        : `restored ${x.host} as of ${x.time} to ${x.to}: ${x.stats.files} files (${formatBytes(x.stats.bytes)}), ` +
          `${x.stats.dirs} dirs, ${x.stats.links} links, ${x.volumesRead} volume(s) from ${x.sets.length} set(s), ${x.seconds.toFixed(1)} s`,
    );
  }),
} as DeaddropCommand;
