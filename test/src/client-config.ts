import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LocalClientOptions {
  host?: string;
  sources: string[];
  /** Recipient certificate(s). */
  recipients: string[];
  /** The sink's root: the host's files land in ROOT/HOST/. Default DIR/sink. */
  sinkRoot?: string;
  sinkName?: string;
  /** More config fields (volumeSize, fullEvery, ...). */
  extra?: Record<string, unknown>;
}

export interface LocalClient {
  /** DIR/client.json */
  config: string;
  /** ROOT/HOST: where the sets land. */
  sinkHostDir: string;
  /** DIR/archive */
  archiveDir: string;
}

/** A client configuration for one host and one local (file://) sink, written to DIR/client.json. */
export function writeLocalClientConfig(dir: string, o: LocalClientOptions): LocalClient {
  const host = o.host ?? 'h1';
  const sinkRoot = o.sinkRoot ?? join(dir, 'sink');
  const config = join(dir, 'client.json');
  const archiveDir = join(dir, 'archive');
  mkdirSync(join(sinkRoot, host), { recursive: true }); // a file:// sink's directory must exist
  writeFileSync(
    config,
    JSON.stringify({
      host,
      sources: o.sources,
      recipients: o.recipients,
      sinks: [{ name: o.sinkName ?? 'local', url: `file://${sinkRoot}/${host}/` }],
      archiveDir,
      ...o.extra,
    }),
  );
  return { config, sinkHostDir: join(sinkRoot, host), archiveDir };
}
