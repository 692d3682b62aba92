/**
 * The client's local state in the archive directory (`state.json`, written atomically): the
 * current chain (its sets, whose plaintext manifests and signature archives are in `cache/`),
 * sets still to be delivered, and the last runs. Without it (or its cache files) the next run
 * is a full backup: the client never reads from a sink.
 */
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

export async function readState(archiveDir: string): Promise<BackupState | undefined> {
  let text: string;
  try {
    text = await readFile(statePath(archiveDir), 'utf8');
  } catch {
    return undefined;
  }
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

export async function writeState(archiveDir: string, state: BackupState): Promise<void> {
  state.runs = state.runs.slice(-KEEP_RUNS);
  await writeFileAtomic(statePath(archiveDir), JSON.stringify(state, null, 2) + '\n', 0o600);
}

/** The chain's end time (the start time of the next incremental). */
export function chainEnd(chain: ChainSet[]): number | undefined {
  return chain.length ? chain[chain.length - 1]!.time : undefined;
}
