import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { DeaddropError, describeError, ExitCode, exitCodeOf, UsageError } from '@deaddrop/common/errors';
import { parseDuration } from '@deaddrop/common/units';

interface Args {
  root: string;
  fleet?: string;
  htpasswd?: string;
  reader?: string[];
  format: 'text' | 'json' | 'prom';
  promFile?: string;
  mail?: string;
  webhook?: string;
  deep?: boolean;
  quick?: boolean;
  onlyProblems?: boolean;
  now?: number;
  grace: string;
}

export const checkCommand = {
  command: 'check',
  describe: 'Check every host on a sink: fresh, complete and intact backups, without the key',
  builder: (y) =>
    y
      .option('root', { type: 'string', demandOption: true, describe: 'Sink root directory (ROOT/HOST/...)' })
      .option('fleet', { type: 'string', describe: 'Fleet file: hosts, kinds, per-host thresholds' })
      .option('htpasswd', { type: 'string', describe: "Without a fleet file: the sink's htpasswd users are the hosts" })
      .option('reader', {
        type: 'string',
        array: true,
        describe: 'An htpasswd user that is a reader account (sink serve --reader), not a host: left out (repeatable)',
      })
      .option('format', {
        choices: ['text', 'json', 'prom'] as const,
        default: 'text' as const,
        describe: 'Report on stdout',
      })
      .option('prom-file', { type: 'string', describe: 'Also write Prometheus textfile metrics here (atomically)' })
      .option('mail', { type: 'string', describe: 'Mail the text report to this address (sendmail -t)' })
      .option('webhook', { type: 'string', describe: 'POST {"text": report} to this Mattermost/Slack webhook URL' })
      .option('only-problems', { type: 'boolean', describe: 'Mail/webhook only when something is wrong' })
      .option('deep', { type: 'boolean', describe: 'Read every file: SHA-256 against the sums files (default)' })
      .option('quick', {
        type: 'boolean',
        describe:
          'Names, presence and CMS framing only, no hashing: a file replaced by another whole one (two volumes swapped) passes',
      })
      .option('grace', { type: 'string', default: '1h', describe: 'Files younger than this may still be uploading' })
      .option('now', { type: 'number', hidden: true, describe: 'Measure ages from this epoch time (tests)' })
      .conflicts('fleet', 'htpasswd')
      .conflicts('deep', 'quick')
      .epilog(
        'Exit 0 when every host is ok, 1 when anything was found (see the report), 2 on usage errors\n' +
          'and when --root cannot be read (the report saying so is still written and sent), 4 when\n' +
          'every host is ok but --mail, --webhook or --prom-file failed (stderr names it).\n' +
          'Rules and JSON schema: docs/FORMAT.md, "Checker JSON report". --json is --format json.',
      ),
  handler: handler<Args>(async (argv) => {
    if (!argv.fleet && !argv.htpasswd)
      throw new UsageError('check: give --fleet FILE or --htpasswd FILE (who should be on the sink)');
    if (argv.now !== undefined && !Number.isFinite(argv.now)) throw new UsageError('--now: not a number');
    if (argv.webhook) {
      // the URL is a secret (its path is the webhook's token): never echoed
      let url: URL;
      try {
        url = new URL(argv.webhook);
        if (!/^https?:$/.test(url.protocol)) throw new Error();
      } catch {
        throw new UsageError('--webhook: the value is not an http(s) URL');
      }
      if (url.username || url.password)
        throw new UsageError(`--webhook ${url.origin}: user and password in the URL are refused (credentials)`);
    }
    const { stat } = await import('node:fs/promises');
    const st = await stat(argv.root).catch(() => undefined);
    if (!st?.isDirectory()) throw new UsageError(`--root: ${argv.root} is not a directory`);
    const grace = parseDuration(argv.grace, '--grace');

    const { hostsFromFleet, hostsFromHtpasswd } = await import('./hosts.js');
    const { checkRoot } = await import('./run.js');
    const { formatText, formatHeadline } = await import('./reporters/text.js');
    const { formatProm } = await import('./reporters/prom.js');
    const { sendMail, postWebhook } = await import('./reporters/notify.js');
    const { writeFileAtomic } = await import('@deaddrop/common/fs');

    // reader accounts (restore) share the sink's htpasswd but never back up: not hosts
    const readers = new Set(argv.reader ?? []);
    const hosts = (argv.fleet ? hostsFromFleet(argv.fleet) : hostsFromHtpasswd(argv.htpasswd!)).filter(
      (h) => !readers.has(h.name),
    );
    const report = await checkRoot({
      root: argv.root,
      hosts,
      now: argv.now ?? Math.floor(Date.now() / 1000),
      deep: !argv.quick,
      grace,
    });

    const format = argv.json ? 'json' : argv.format;
    const text = formatText(report);
    if (format === 'json') process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else if (format === 'prom') process.stdout.write(formatProm(report));
    else process.stdout.write(text);
    // every output is tried, whatever happened to the others: one failed channel must not
    // silence the rest; each failure is reported and the run fails at the end
    const failures: unknown[] = [];
    const attempt = async (fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        failures.push(err);
        process.stderr.write(`deaddrop: ${describeError(err)}\n`);
      }
    };
    if (argv.promFile) {
      const promFile = argv.promFile;
      await attempt(async () => {
        await writeFileAtomic(promFile, formatProm(report)).catch((err: Error) => {
          throw new DeaddropError(`--prom-file ${promFile}: ${describeError(err)}`);
        });
      });
    }
    if (!(argv.onlyProblems && report.ok)) {
      const mail = argv.mail;
      const webhook = argv.webhook;
      if (mail) await attempt(() => sendMail(mail, formatHeadline(report), text));
      if (webhook) await attempt(() => postWebhook(webhook, `${formatHeadline(report)}\n\`\`\`\n${text}\`\`\``));
    }
    // an unreadable root is the setup's fault (permissions, the unit's sandbox), as a --root
    // that is no directory is: exit 2, after the report saying so went everywhere it could
    if (report.error) {
      process.stderr.write(`deaddrop: --root ${report.error}: no host was checked\n`);
      return Math.max(ExitCode.USAGE, ...failures.map(exitCodeOf));
    }
    // what was found first (the channels' arguments were checked before the run); a clean
    // report that did not reach every channel is degraded (exit 4, as a backup that reached
    // only some sinks), so a script tells it from problems found
    if (!report.ok) return ExitCode.FAILED;
    return failures.length ? ExitCode.DEGRADED : ExitCode.OK;
  }),
} as DeaddropCommand;
