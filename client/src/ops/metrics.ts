/**
 * What the client tells Prometheus about its backups (node_exporter's textfile collector), and
 * the text format. The model is carried from run to run through the file itself: counters keep
 * adding up and the last success survives failed, locked and running states.
 *
 * Only host and sink names appear as labels: never URLs, paths or error text (secrets).
 */

/** deaddrop_backup_last_status values. */
export const Status = { RUNNING: -1, FAILED: 0, OK: 1, LOCKED: 2, DEGRADED: 4 } as const;
export type StatusValue = (typeof Status)[keyof typeof Status];

export type RunKind = 'ok' | 'degraded' | 'failed' | 'locked';
export const RUN_KINDS: readonly RunKind[] = ['ok', 'degraded', 'failed', 'locked'];
export type FileChange = 'new' | 'changed' | 'deleted';
export const FILE_CHANGES: readonly FileChange[] = ['new', 'changed', 'deleted'];

export interface BackupMetrics {
  status: StatusValue;
  /** Epoch seconds; absent until a run has put a set on at least one sink. */
  lastSuccess?: number;
  lastStart?: number;
  lastDuration?: number;
  /** Regular files and their bytes in the backup tree at the last finished walk. */
  sourceFiles?: number;
  sourceBytes?: number;
  spoolBytes?: number;
  /** Sink name → 1 when the last run delivered everything to it. */
  sinkUp: Record<string, number>;
  /** Sink name → sets it still lacks (spooled or dropped). */
  sinkLagging: Record<string, number>;
  // Counters: they only grow (a lost file resets them, which Prometheus handles).
  readBytes: number;
  storedBytes: number;
  uploadedBytes: Record<string, number>;
  files: Record<FileChange, number>;
  errors: number;
  runs: Record<RunKind, number>;
}

export function emptyMetrics(): BackupMetrics {
  return {
    status: Status.RUNNING,
    sinkUp: {},
    sinkLagging: {},
    readBytes: 0,
    storedBytes: 0,
    uploadedBytes: {},
    files: { new: 0, changed: 0, deleted: 0 },
    errors: 0,
    runs: { ok: 0, degraded: 0, failed: 0, locked: 0 },
  };
}

type Labels = Record<string, string>;
type Sample = [Labels, number | undefined];

interface MetricDef {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  samples: (m: BackupMetrics) => Sample[];
}

const one = (v: number | undefined): Sample[] => [[{}, v]];
const bySink = (r: Record<string, number>): Sample[] => Object.entries(r).map(([sink, v]) => [{ sink }, v]);

/** Every metric, in file order. metrics-parse.ts reads the same names back. */
export const METRICS: readonly MetricDef[] = [
  {
    name: 'deaddrop_backup_last_status',
    type: 'gauge',
    help: 'Last backup run: -1 running, 0 failed, 1 ok, 2 locked (another run held the lock), 4 degraded (some sinks missed the set).',
    samples: (m) => one(m.status),
  },
  {
    name: 'deaddrop_backup_last_success_timestamp_seconds',
    type: 'gauge',
    help: 'End of the last run that put its set on at least one sink (ok or degraded).',
    samples: (m) => one(m.lastSuccess),
  },
  {
    name: 'deaddrop_backup_last_start_timestamp_seconds',
    type: 'gauge',
    help: 'Start of the last run.',
    samples: (m) => one(m.lastStart),
  },
  {
    name: 'deaddrop_backup_duration_seconds',
    type: 'gauge',
    help: 'Wall time of the last finished run.',
    samples: (m) => one(m.lastDuration),
  },
  {
    name: 'deaddrop_backup_source_files',
    type: 'gauge',
    help: 'Regular files in the backup tree at the last run.',
    samples: (m) => one(m.sourceFiles),
  },
  {
    name: 'deaddrop_backup_source_bytes',
    type: 'gauge',
    help: 'Bytes of regular files in the backup tree at the last run.',
    samples: (m) => one(m.sourceBytes),
  },
  {
    name: 'deaddrop_backup_spool_bytes',
    type: 'gauge',
    help: 'Bytes waiting in the local spool for a sink that missed them.',
    samples: (m) => one(m.spoolBytes),
  },
  {
    name: 'deaddrop_backup_sink_up',
    type: 'gauge',
    help: '1 when the last run delivered everything to the sink, else 0.',
    samples: (m) => bySink(m.sinkUp),
  },
  {
    name: 'deaddrop_backup_sink_lagging_sets',
    type: 'gauge',
    help: 'Backup sets the sink still lacks (spooled for the next run, or dropped until the next full).',
    samples: (m) => bySink(m.sinkLagging),
  },
  {
    name: 'deaddrop_backup_read_bytes_total',
    type: 'counter',
    help: 'File content bytes read from the backup tree.',
    samples: (m) => one(m.readBytes),
  },
  {
    name: 'deaddrop_backup_stored_bytes_total',
    type: 'counter',
    help: 'Bytes of backup sets written (compressed, encrypted; one copy).',
    samples: (m) => one(m.storedBytes),
  },
  {
    name: 'deaddrop_backup_uploaded_bytes_total',
    type: 'counter',
    help: 'Bytes sent to each sink.',
    samples: (m) => bySink(m.uploadedBytes),
  },
  {
    name: 'deaddrop_backup_files_total',
    type: 'counter',
    help: 'Files put into backup sets, by change.',
    samples: (m) => FILE_CHANGES.map((change) => [{ change }, m.files[change]]),
  },
  {
    name: 'deaddrop_backup_errors_total',
    type: 'counter',
    help: 'Files or directories reported and skipped (unreadable, vanished, ...).',
    samples: (m) => one(m.errors),
  },
  {
    name: 'deaddrop_backup_runs_total',
    type: 'counter',
    help: 'Finished runs, by outcome.',
    samples: (m) => RUN_KINDS.map((status) => [{ status }, m.runs[status]]),
  },
];

export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function number(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(3);
}

/** The textfile: # HELP and # TYPE for every metric, every sample labelled with the host. */
export function formatMetrics(host: string, m: BackupMetrics): string {
  const out: string[] = [];
  for (const def of METRICS) {
    out.push(`# HELP ${def.name} ${def.help}`, `# TYPE ${def.name} ${def.type}`);
    for (const [labels, value] of def.samples(m)) {
      if (value === undefined || !Number.isFinite(value)) continue;
      const l = Object.entries({ host, ...labels })
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(',');
      out.push(`${def.name}{${l}} ${number(value)}`);
    }
  }
  return out.join('\n') + '\n';
}
