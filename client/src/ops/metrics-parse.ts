/**
 * Reads the previous textfile back into the model, so counters continue and the last success
 * survives runs that did not succeed. Anything unreadable is simply left out: the worst case
 * is a counter reset, which Prometheus copes with.
 */
import { emptyMetrics, FILE_CHANGES, RUN_KINDS, type BackupMetrics, type FileChange, type RunKind } from './metrics.js';

interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)\s*$/;
const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

export function parseSamples(text: string): ParsedSample[] {
  const out: ParsedSample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = unescape(l[2]!);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

const PREFIX = 'deaddrop_backup_';

/** The model from a previous file's text (its status is not carried: the caller sets it). */
export function parseMetrics(text: string): BackupMetrics {
  const m = emptyMetrics();
  for (const s of parseSamples(text)) {
    if (!s.name.startsWith(PREFIX)) continue;
    const sink = s.labels.sink;
    switch (s.name.slice(PREFIX.length)) {
      case 'last_success_timestamp_seconds':
        m.lastSuccess = s.value;
        break;
      case 'last_start_timestamp_seconds':
        m.lastStart = s.value;
        break;
      case 'duration_seconds':
        m.lastDuration = s.value;
        break;
      case 'source_files':
        m.sourceFiles = s.value;
        break;
      case 'source_bytes':
        m.sourceBytes = s.value;
        break;
      case 'spool_bytes':
        m.spoolBytes = s.value;
        break;
      case 'sink_up':
        if (sink !== undefined) m.sinkUp[sink] = s.value;
        break;
      case 'sink_lagging_sets':
        if (sink !== undefined) m.sinkLagging[sink] = s.value;
        break;
      case 'read_bytes_total':
        m.readBytes = s.value;
        break;
      case 'stored_bytes_total':
        m.storedBytes = s.value;
        break;
      case 'uploaded_bytes_total':
        if (sink !== undefined) m.uploadedBytes[sink] = s.value;
        break;
      case 'files_total':
        if (FILE_CHANGES.includes(s.labels.change as FileChange)) m.files[s.labels.change as FileChange] = s.value;
        break;
      case 'errors_total':
        m.errors = s.value;
        break;
      case 'runs_total':
        if (RUN_KINDS.includes(s.labels.status as RunKind)) m.runs[s.labels.status as RunKind] = s.value;
        break;
    }
  }
  return m;
}
