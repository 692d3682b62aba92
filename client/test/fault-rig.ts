/**
 * What the client's sink fault tests share: a quick retry policy, the embedded sink's test
 * host, and a host with one file, a recipient and one local (file://) sink.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RetryPolicy } from '@deaddrop/client/transport/retry';
import { makeTestRecipient, tempDir, writeLocalClientConfig } from '@deaddrop/test';

/** Retries that cost milliseconds, not the default's seconds. */
export const FAST: RetryPolicy = { retries: 2, minTimeoutMs: 5, maxTimeoutMs: 10, factor: 1 };
/** Host h1 of `startEmbeddedSink({ hosts: { h1: creds.password } })`. */
export const creds = { login: 'h1', password: 'pw-h1-secret' };

/** A host with SRC/NAME holding `content`, a recipient and one local sink: TMP/client.json. */
export async function oneFileHost(
  prefix: string,
  name: string,
  content: string | Buffer,
  extra?: Record<string, unknown>,
) {
  const tmp = tempDir(prefix);
  const src = join(tmp, 'src');
  mkdirSync(src);
  writeFileSync(join(src, name), content);
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const config = writeLocalClientConfig(tmp, {
    sources: [src],
    recipients: [key.certPath],
    ...(extra ? { extra } : {}),
  });
  return { tmp, src, key, ...config };
}
