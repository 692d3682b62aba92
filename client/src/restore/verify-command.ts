import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { printResult } from '@deaddrop/common/output';
import { restoreInputs, sourceOptions, type SourceArgs } from './source-options.js';

interface Args extends SourceArgs {
  against: string;
  time?: string;
  path?: string[];
  tmp?: string;
  config?: string;
}

export const verifyCommand = {
  command: 'verify',
  describe: 'Compare a backup (at --time) with a live tree; exit 1 when they differ',
  builder: (y) =>
    y
      .options(sourceOptions('needed for encrypted sets'))
      .option('against', { type: 'string', demandOption: true, describe: 'The live tree (the backed-up source)' })
      .option('time', { type: 'string', describe: 'The backup as of this time (default latest)' })
      .option('path', {
        type: 'string',
        array: true,
        describe: 'Compare only this subtree (repeatable): relative to the backup root, or absolute under it',
      })
      .option('tmp', { type: 'string', describe: 'Where the backup is restored for comparing (default: system temp)' })
      .option('config', {
        type: 'string',
        describe: "The host's client.json: what the live tree holds and the backup lacks counts only where it selects",
      })
      .epilog(
        'The backup is restored (checked like restore does) into a temporary directory, compared, and removed. ' +
          'What the live tree holds and the backup lacks is a difference only where the backup would have taken it: ' +
          "inside the sources of the host's --config and not excluded by it; without --config, as the default config " +
          'would (the whole backup root, one file system, never /proc /sys /dev /run). Those left out are counted.',
      ),
  handler: handler<Args>(async (argv) => {
    const { runVerify } = await import('./verify.js');
    const { withRestoreProgress } = await import('./progress.js');
    const inputs = await restoreInputs(argv);
    const config = argv.config === undefined ? undefined : await hostConfig(argv.config);
    const r = await withRestoreProgress(argv, (onProgress) =>
      runVerify({
        ...inputs,
        against: argv.against,
        paths: argv.path ?? [],
        tmp: argv.tmp,
        config,
        onProgress,
      }),
    );
    if (!argv.json) for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    printResult(argv.json, r, (x) => [
      ...x.differences.map(
        (d) => `${d.what}: ${d.path}${d.backup !== undefined ? ` (backup ${d.backup}, live ${d.live})` : ''}`,
      ),
      `verify ${x.host} as of ${x.time} against ${x.against}: ${x.compared} objects, ${x.differences.length} difference(s)` +
        (x.outside ? `; ${x.outside} live object(s) the backup does not select, not compared` : ''),
    ]);
    return r.differences.length ? 1 : 0;
  }),
} as DeaddropCommand;

async function hostConfig(file: string) {
  const { loadClientConfig } = await import('@deaddrop/common/config/client');
  return { file, config: loadClientConfig(file) };
}
