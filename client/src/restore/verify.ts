/**
 * `deaddrop verify`: restore the backup at a time into a private temporary directory (with
 * every check restore makes), compare it with the live tree, remove it. The restore's warnings
 * are passed on; --against must be a directory (a usage error otherwise). What the live tree
 * holds and the backup lacks counts only where the host's selection would have taken it
 * (live-selection.ts): its client.json's (--config), else the default config's.
 */
import { mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientConfig } from '@deaddrop/common/config/client';
import { UsageError } from '@deaddrop/common/errors';
import { indexToBytes } from '../scan/path-index.js';
import { makeSelection, type Selection } from '../scan/select.js';
import { compareWithLive, type Difference } from './compare-live.js';
import { takenByBackup } from './live-selection.js';
import { showBytes } from './show-bytes.js';
import type { KeySource } from './key.js';
import type { RestoreProgress } from './progress.js';
import { runRestore } from './restore.js';
import { parsePathArgument } from './path-arguments.js';

export interface VerifyOptions {
  from: string;
  host: string;
  netrc?: string;
  ca?: string;
  /** Debug-level messages (--verbose). */
  debug?: (message: string) => void;
  key: KeySource;
  against: string;
  time?: number;
  paths: string[];
  tmp?: string;
  /** The restore's progress (the comparison after it is quick). */
  onProgress?: (p: RestoreProgress) => void;
  /** The host's client.json (--config) and its file: the live tree is taken as its backups take it. */
  config?: { file: string; config: ClientConfig };
}

export interface VerifyReport {
  host: string;
  time: string;
  against: string;
  /** The backup root the live tree stands for (the sets' Localdir), if they name one. */
  root?: string;
  /**
   * Which objects of the live tree the backup is expected to hold: as the host's --config
   * selects them, as the default config would (the whole root, one file system, never /proc
   * /sys /dev /run), or all of them (the sets name no backup root).
   */
  selection: 'config' | 'default' | 'all';
  /** Objects of the backup compared with the live tree. */
  compared: number;
  /** Live objects the backup lacks and would not have taken: not compared (a subtree counts once). */
  outside: number;
  differences: Difference[];
  /** The restore's warnings (e.g. an incomplete set left out). */
  warnings: string[];
}

/** --against must be a directory (a symlink to one will do): a typo is a usage error, not a difference. */
async function checkAgainst(against: string): Promise<void> {
  const st = await stat(against).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error)
    throw new UsageError(`--against ${against}: ${st.code === 'ENOENT' ? 'no such directory' : st.message}`);
  if (!st.isDirectory()) throw new UsageError(`--against ${against}: not a directory`);
}

/** The selection of the host's config, or a usage error naming it when it is another host's. */
function configSelection(o: VerifyOptions): Selection | undefined {
  if (!o.config) return undefined;
  const { file, config } = o.config;
  if (config.host !== o.host)
    throw new UsageError(`--config ${file}: the config of host ${config.host}, not of --host ${o.host}`);
  return makeSelection(config.sources, config.exclude, [config.archiveDir]);
}

/**
 * The selection the live tree is compared under, once the sets' root is known: the config's
 * (which must have that root), else the default config's; undefined for sets without one root.
 */
function selectionFor(
  o: VerifyOptions,
  fromConfig: Selection | undefined,
  root: Buffer | undefined,
): Selection | undefined {
  if (fromConfig) {
    if (!root || !Buffer.from(fromConfig.root).equals(root))
      throw new UsageError(
        `--config ${o.config!.file}: its sources are under ${fromConfig.root}, but the backup at that time is of ` +
          `${root ? showBytes(root) : 'no one root (the sets name none, or several)'}`,
      );
    return fromConfig;
  }
  if (!root) return undefined;
  const asText = root.toString('utf8');
  return Buffer.from(asText).equals(root) ? makeSelection([asText], []) : undefined;
}

/** The path of `inner` below `outer` (both real paths), if it lies there. */
function relativeBelow(outer: string, inner: string): Buffer | undefined {
  const prefix = outer === '/' ? '/' : outer + '/';
  return inner.startsWith(prefix) ? Buffer.from(inner.slice(prefix.length)) : undefined;
}

export async function runVerify(o: VerifyOptions): Promise<VerifyReport> {
  await checkAgainst(o.against);
  const fromConfig = configSelection(o);
  const work = await mkdtemp(join(o.tmp ?? tmpdir(), 'deaddrop-verify-'));
  try {
    const dest = join(work, 'tree');
    let selection: Selection | undefined;
    const r = await runRestore({
      from: o.from,
      host: o.host,
      netrc: o.netrc,
      ca: o.ca,
      debug: o.debug,
      key: o.key,
      dest,
      scratch: true,
      time: o.time,
      paths: o.paths,
      onProgress: o.onProgress,
      onRoot: (root) => void (selection = selectionFor(o, fromConfig, root)),
    });
    const owners = process.getuid?.() === 0;
    // the restore's paths, relative to the backup root (an absolute --path mapped)
    const roots = r.paths.length ? r.paths.map((p) => indexToBytes(parsePathArgument(p).index)) : [Buffer.alloc(0)];
    const live = Buffer.from(o.against);
    // this restore, when it lies in the live tree, is no object of the host's
    const ownWork = relativeBelow(await realpath(o.against), await realpath(work));
    const taken =
      selection &&
      takenByBackup(selection, live, {
        oneFileSystem: o.config?.config.oneFileSystem ?? true,
        leaveOut: ownWork ? [ownWork] : [],
      });
    const differences: Difference[] = [];
    let compared = 0;
    let outside = 0;
    for (const rel of roots) {
      const c = await compareWithLive(Buffer.from(dest), live, { owners, rel, taken });
      differences.push(...c.differences);
      compared += c.compared;
      outside += c.outside;
    }
    return {
      host: o.host,
      time: r.time,
      against: o.against,
      root: r.root,
      selection: o.config ? 'config' : selection ? 'default' : 'all',
      compared,
      outside,
      differences,
      warnings: r.warnings,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
