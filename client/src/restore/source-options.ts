/** Kept apart from source.ts so the command modules load nothing else at startup. */
/** The yargs options restore, list and verify share for their source. */
export const sourceOptions = {
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
} as const;
