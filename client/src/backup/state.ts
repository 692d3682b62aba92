/**
 * The client's local state in the archive directory (`state.json`, written atomically): the
 * current chain (its sets, whose plaintext manifests and signature archives are in `cache/`),
 * sets still to be delivered, and the last runs. Without it (or its cache files) the next run
 * is a full backup: the client never reads from a sink. A state that does not pass its schema
 * (common/src/config/backup-state.ts) counts as none, with a warning; the sets it may have
 * listed as pending are kept all the same (leftovers.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { backupStateSchema } from '@deaddrop/common/config/backup-state';
import { parseConfig } from '@deaddrop/common/config/load';
import { ConfigError, describeError } from '@deaddrop/common/errors';
import { writeFileAtomic } from '@deaddrop/common/fs';

export interface ChainSet {
  type: 'full' | 'inc';
  /** Full: its time; incremental: its end time. Epoch seconds. */
  time: number;
  startTime?: number;
  /** File names in cache/ (plain manifest, gzip'ed sigtar). */
  manifest: string;
  signatures: string;
  /** SHA-1 of the signatures file as written: checked before an incremental reads it. */
  signaturesSha1?: string;
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
  /** The backup root the chain was made of (Localdir). */
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

/** What is in the archive dir's state file: nothing yet, a valid state, or why there is none. */
export type StateRead =
  | { status: 'none' }
  | { status: 'ok'; state: BackupState }
  /** `problem` names the file. */
  | { status: 'damaged' | 'unreadable'; problem: string };

export async function loadState(archiveDir: string): Promise<StateRead> {
  const file = statePath(archiveDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { status: 'none' };
    return { status: 'unreadable', problem: `${file}: cannot be read (${code ?? describeError(err)})` };
  }
  return parseState(file, text);
}

/** The state, or undefined when there is none or it is damaged or unreadable: start a new chain. */
export async function readState(archiveDir: string): Promise<BackupState | undefined> {
  const r = await loadState(archiveDir);
  return r.status === 'ok' ? r.state : undefined;
}

function parseState(file: string, text: string): StateRead {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { status: 'damaged', problem: `${file}: damaged: not valid JSON (${describeError(err)})` };
  }
  try {
    const state: BackupState = parseConfig(file, backupStateSchema, data);
    return { status: 'ok', state };
  } catch (err) {
    // parseConfig's message is "FILE: FIELD: PROBLEM"
    const detail = err instanceof ConfigError ? err.message.slice(file.length + 2) : describeError(err);
    return { status: 'damaged', problem: `${file}: damaged: ${detail}` };
  }
}

const stateText = (state: BackupState) => JSON.stringify(state, null, 2) + '\n';

export async function writeState(archiveDir: string, state: BackupState): Promise<void> {
  state.runs = state.runs.slice(-KEEP_RUNS);
  await writeFileAtomic(statePath(archiveDir), stateText(state), 0o600);
}

/** The chain's end time (the start time of the next incremental). */
export function chainEnd(chain: ChainSet[]): number | undefined {
  return chain.length ? chain[chain.length - 1]!.time : undefined;
}
