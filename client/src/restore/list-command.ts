import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { jsonListing, printResult, stdoutPieces } from '@deaddrop/common/output';
import { formatBytes } from '@deaddrop/common/units';
import { debugLines, sourceOptions, type SourceArgs } from './source-options.js';
import type { ListedFile } from './listing.js';
import type { RestoreProgress } from './progress.js';
import type { RestoreSource } from './source.js';

interface Args extends SourceArgs {
  time?: string;
  files?: boolean;
}

export const listCommand = {
  command: 'list',
  describe: "List a host's backup sets (times, volumes, sizes), or with --files what a backup holds at a time",
  builder: (y) =>
    y
      .options(sourceOptions('--files of encrypted sets'))
      .option('files', { type: 'boolean', describe: 'List the files of the backup at --time (reads the volumes)' })
      .option('time', { type: 'string', describe: 'With --files: as of this time (default latest)' }),
  handler: handler<Args>(async (argv) => {
    const { openSource } = await import('./source.js');
    const source = await openSource({
      from: argv.from,
      host: argv.host,
      netrc: argv.netrc,
      ca: argv.ca,
      debug: debugLines(argv.verbose),
    });
    try {
      await list(argv, source);
    } finally {
      source.close();
    }
  }),
} as DeaddropCommand;

async function list(argv: Args & { json?: boolean; quiet?: boolean }, source: RestoreSource): Promise<void> {
  const { readCatalog, iso } = await import('./catalog.js');
  const catalog = await readCatalog(source);
  if (!argv.files) {
    const { listSets } = await import('./list.js');
    const r = await listSets(catalog, argv.host);
    printResult(argv.json, r, (x) => {
      const lines: string[] = [];
      for (const c of x.chains) {
        lines.push(`chain ${c.start} .. ${c.end}`);
        for (const s of c.sets) lines.push(`  ${line(s)}`);
      }
      for (const s of x.orphans) lines.push(`orphan ${line(s)}`);
      return lines.length ? lines : [`${x.dir}: no backup sets`];
    });
    return;
  }
  const { keyLoader } = await import('./key.js');
  const { parseRestoreTime } = await import('./when.js');
  const { loadSetsAt } = await import('./pick-sets.js');
  const { listFilesAt } = await import('./listing.js');
  const { showBytes } = await import('./show-bytes.js');
  const key = keyLoader(argv.key, argv.passphraseFile);
  const time = argv.time === undefined ? undefined : parseRestoreTime(argv.time);
  const { loaded, warnings } = await loadSetsAt(catalog, time, key);
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  const { startProgress, withRestoreProgress } = await import('./progress.js');
  const at = startProgress(loaded, [], catalog.sizes);
  const last = loaded[loaded.length - 1]!;
  // the backup root the paths are relative to (what an absolute --path of restore is under)
  const root = last.manifest.localdir && showBytes(last.manifest.localdir);
  // written as read: a host's listing can be hundreds of thousands of lines (on an error
  // part way, what was listed so far has gone out, and the exit code says it is not all)
  const head = { host: argv.host, time: iso(last.set.time), root };
  const text = stdoutPieces();
  const json = argv.json ? jsonListing<ListedFile>(head, 'files', text) : undefined;
  const sink = json
    ? (f: ListedFile) => json.add(f)
    : (f: ListedFile) =>
        text.write(
          `${f.type.padEnd(8)} ${(f.mode & 0o7777).toString(8).padStart(4, '0')} ${String(f.size).padStart(12)} ` +
            `${iso(f.mtime)} ${f.path}${f.target !== undefined ? ` -> ${f.target}` : ''}\n`,
        );
  const listing = (report?: (p: RestoreProgress) => void) =>
    listFilesAt(source, loaded, key, sink, report && { at, report });
  try {
    // lines going to a terminal are the progress: no progress line drawn among them
    if (process.stdout.isTTY) await listing();
    else await withRestoreProgress(argv, listing);
  } catch (err) {
    await text.end(); // what was listed before the error goes out with it
    throw err;
  }
  await (json ? json.end() : text.end());
}

function line(s: { type: string; time: string; volumes: number; storedBytes: number; missing: string[] }): string {
  const state = s.missing.length ? `  INCOMPLETE: missing ${s.missing.join(', ')}` : '';
  return `${s.type.padEnd(4)} ${s.time}  ${String(s.volumes).padStart(4)} vol  ${formatBytes(s.storedBytes).padStart(10)}${state}`;
}
