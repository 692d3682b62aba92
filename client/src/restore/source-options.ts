/**
 * What restore, list and verify share: where the sets are (--from, --netrc, --ca), whose they
 * are (--host) and the key that opens them. Kept apart from source.ts so the command modules
 * load nothing else at startup.
 */

/** Parsed values of the shared options. */
export interface SourceArgs {
  from: string;
  netrc?: string;
  ca?: string;
  host: string;
  key?: string;
  passphraseFile?: string;
}

/** The yargs options behind SourceArgs; `keyUse` says what the key is needed for in this command. */
export function sourceOptions(keyUse: string) {
  return {
    from: {
      type: 'string',
      demandOption: true,
      describe:
        'Sink root (DIR/HOST/...) or host directory; or a WebDAV sink, http(s)://SINK:PORT/webdav/ or .../webdav/HOST/',
    },
    netrc: {
      type: 'string',
      describe: 'With --from URL: netrc file (mode 0600) with the sink reader account for that machine',
    },
    ca: { type: 'string', describe: "With --from https://: PEM CA the sink's certificate must chain to" },
    host: { type: 'string', demandOption: true, describe: 'Host whose backups to read' },
    key: { type: 'string', describe: `Recipient private key (${keyUse})` },
    'passphrase-file': { type: 'string', describe: 'Key passphrase from this file (else asked on the terminal)' },
  } as const;
}

/** Debug-level lines on stderr with --verbose, else none. */
export function debugLines(verbose: boolean | undefined): ((message: string) => void) | undefined {
  return verbose ? (message) => void process.stderr.write(`debug: ${message}\n`) : undefined;
}

/** The source, key and time of a restore or verify, from its arguments (loaded when it runs). */
export async function restoreInputs(argv: SourceArgs & { time?: string; verbose?: boolean }) {
  const { keyLoader } = await import('./key.js');
  const { parseRestoreTime } = await import('./when.js');
  return {
    from: argv.from,
    host: argv.host,
    netrc: argv.netrc,
    ca: argv.ca,
    key: keyLoader(argv.key, argv.passphraseFile),
    time: argv.time === undefined ? undefined : parseRestoreTime(argv.time),
    debug: debugLines(argv.verbose),
  };
}
