/**
 * The client's local state in the archive directory (`state.json`, written atomically): the
 * current chain (its sets, whose plaintext manifests and signature archives are in `cache/`),
 * sets still to be delivered, and the last runs. Without it (or its cache files) the next run
 * is a full backup: the client never reads from a sink.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@deaddrop/common/fs';

export interface ChainSet {
  type: 'full' | 'inc';
  /** Full: its time; incremental: its end time. Epoch seconds. */
  time: number;
  startTime?: number;
  /** File names in cache/ (plain manifest, gzip'ed sigtar). */
  manifest: string;
  signatures: string;
  volumes: number;
  /** Bytes stored on a sink for this set (all files incl. the sums file). */
  storedBytes: number;
}

export interface RunRecord {
  started: string;
  finished: string;
  result: 'ok' | 'degraded' | 'failed';
  set?: string;
  type?: 'full' | 'inc';
  storedBytes?: number;
  problems?: number;
  error?: string;
}

export interface BackupState {
  version: 1;
  /** The machine's host name (the manifests' Hostname). */
  host: string;
  /** The backup root the chain was made of (Localdir); empty while there is no chain. */
  localdir: string;
  /** config.host and the sink URLs the chain went to (absent in older states: not compared). */
  configHost?: string;
  sinkUrls?: string[];
  chain: ChainSet[];
  /** Set keys whose outgoing files still wait for delivery. */
  pending: string[];
  runs: RunRecord[];
}

const KEEP_RUNS = 30;

export function statePath(archiveDir: string): string {
  return join(archiveDir, 'state.json');
}

export async function readState(archiveDir: string): Promise<BackupState | undefined> {
  let text: string;
  try {
    text = await readFile(statePath(archiveDir), 'utf8');
  } catch {
    return undefined;
  }
  return parseState(text);
}

function parseState(text: string): BackupState | undefined {
  try {
    const s = JSON.parse(text) as BackupState;
    if (s.version !== 1 || !Array.isArray(s.chain)) return undefined;
    s.pending ??= [];
    s.runs ??= [];
    return s;
  } catch {
    return undefined; // a damaged state file means: start a new chain
  }
}

const stateText = (state: BackupState) => JSON.stringify(state, null, 2) + '\n';

export async function writeState(archiveDir: string, state: BackupState): Promise<void> {
  state.runs = state.runs.slice(-KEEP_RUNS);
  await writeFileAtomic(statePath(archiveDir), stateText(state), 0o600);
}

/**
 * Add a run to the state on disk all at once: for a run stopped by a signal while its own
 * code still runs, which must not get to write the state in between. Without a readable
 * state, one with no chain (the next run is a full) records it.
 */
export function appendRunSync(archiveDir: string, run: RunRecord, host: string): void {
  const file = statePath(archiveDir);
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // none yet
  }
  const state = (text !== undefined ? parseState(text) : undefined) ?? {
    version: 1,
    host,
    localdir: '',
    chain: [],
    pending: [],
    runs: [],
  };
  state.runs = [...state.runs, run].slice(-KEEP_RUNS);
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, stateText(state));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** The chain's end time (the start time of the next incremental). */
export function chainEnd(chain: ChainSet[]): number | undefined {
  return chain.length ? chain[chain.length - 1]!.time : undefined;
}
