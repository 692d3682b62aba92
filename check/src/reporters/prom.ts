/** Prometheus textfile (node_exporter's textfile collector): per-host gauges, `deaddrop_check_*`. */
import type { CheckReport } from '../report.js';

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function formatProm(r: CheckReport): string {
  const out: string[] = [];
  const metric = (name: string, help: string, samples: [Record<string, string>, number | null][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, value] of samples) {
      if (value === null) continue;
      const l = Object.entries(labels)
        .map(([k, v]) => `${k}="${label(v)}"`)
        .join(',');
      out.push(`${name}${l ? `{${l}}` : ''} ${value}`);
    }
  };
  const hosts = r.hosts;
  metric('deaddrop_check_timestamp_seconds', 'When the check ran.', [[{}, r.checkedAt]]);
  metric('deaddrop_check_ok', '1 when every host is ok.', [[{}, r.ok ? 1 : 0]]);
  metric(
    'deaddrop_check_host_ok',
    '1 when the host has no problem and no warning.',
    hosts.map((h) => [{ host: h.host, kind: h.kind }, h.status === 'ok' ? 1 : 0]),
  );
  metric(
    'deaddrop_check_host_enrolled',
    '1 for an enrolled host, 0 for a stray directory.',
    hosts.map((h) => [{ host: h.host }, h.enrolled ? 1 : 0]),
  );
  metric(
    'deaddrop_check_last_full_timestamp_seconds',
    "Time of the newest chain's full backup.",
    hosts.map((h) => [{ host: h.host }, h.lastFull]),
  );
  metric(
    'deaddrop_check_last_incremental_timestamp_seconds',
    "Time of the newest chain's last incremental backup (past a broken-chain gap too).",
    hosts.map((h) => [{ host: h.host }, h.lastIncremental]),
  );
  metric(
    'deaddrop_check_snowflake_timestamp_seconds',
    'Time of the newest snowflake file of each kind.',
    hosts.flatMap((h) =>
      h.snowflakes.map((s): [Record<string, string>, number] => [{ host: h.host, kind: s.kind }, s.time]),
    ),
  );
  metric(
    'deaddrop_check_newest_set_complete',
    '1 when the newest backup set is complete, intact and restorable (no gap in its chain).',
    hosts.map((h) => [{ host: h.host }, h.newestSetComplete === null ? null : h.newestSetComplete ? 1 : 0]),
  );
  metric(
    'deaddrop_check_complete_sets',
    'Complete, intact backup sets.',
    hosts.map((h) => [{ host: h.host }, h.kind === 'linux' ? h.completeSets : null]),
  );
  metric(
    'deaddrop_check_bytes',
    "Bytes in the host's directory.",
    hosts.map((h) => [{ host: h.host }, h.bytes]),
  );
  metric(
    'deaddrop_check_problems',
    'Problems found, by severity.',
    hosts.flatMap((h) =>
      (['error', 'warning'] as const).map((sev): [Record<string, string>, number] => [
        { host: h.host, severity: sev },
        h.problems.filter((p) => p.severity === sev).length,
      ]),
    ),
  );
  return out.join('\n') + '\n';
}
