import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDeaddrop } from './cli.js';
import { makeTestRecipient, type TestRecipient } from './keys.js';

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

/**
 * A host `h1` backing up `src` to DIR/sink with a new test key (DIR/keys); `backup()` runs
 * `deaddrop backup` and asserts it succeeded.
 */
export async function localBackupRig(
  dir: string,
  src: string,
): Promise<{ key: TestRecipient; client: LocalClient; backup: () => Promise<void> }> {
  const key = await makeTestRecipient(join(dir, 'keys'), { bits: 2048 });
  const client = writeLocalClientConfig(dir, { sources: [src], recipients: [key.certPath] });
  const backup = async () => {
    const r = await runDeaddrop(['backup', '--config', client.config]);
    assert.equal(r.code, 0, r.stderr);
  };
  return { key, client, backup };
}
