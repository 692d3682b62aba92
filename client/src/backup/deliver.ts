/**
 * Minimal delivery until transport/mirror.ts takes over: each file of a finished set, in
 * order (volumes, signatures, manifest, sums file last), to every target in turn. A set is
 * delivered when every target has every file; otherwise its outgoing directory stays for the
 * next run. Never reads from a sink.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '@deaddrop/common/errors';
import type { Logger } from '@deaddrop/common/log';
import type { SinkTargetLike } from '../transport/file-target.js';

export interface DeliverSetOptions {
  /** archiveDir/outgoing/<set>/ */
  setDir: string;
  /** Stored file names in upload order (the sums file last). */
  files: string[];
  targets: SinkTargetLike[];
  log: Logger;
}

export interface DeliveryResult {
  /** Target name → 'ok' or the error that stopped it. */
  targets: Record<string, { ok: boolean; created: number; existed: number; error?: string }>;
  /** Every target has every file. */
  complete: boolean;
  /** At least one target has every file. */
  anyComplete: boolean;
}

export async function deliverSet(opts: DeliverSetOptions): Promise<DeliveryResult> {
  const result: DeliveryResult = { targets: {}, complete: true, anyComplete: false };
  for (const target of opts.targets) {
    const r = { ok: true, created: 0, existed: 0 } as DeliveryResult['targets'][string];
    try {
      for (const name of opts.files) {
        const path = join(opts.setDir, name);
        const size = (await stat(path)).size;
        const outcome = await target.put(name, () => createReadStream(path), size);
        if (outcome === 'created') r.created++;
        else r.existed++;
      }
      result.anyComplete = true;
    } catch (err) {
      r.ok = false;
      r.error = describeError(err);
      result.complete = false;
      opts.log.warn(`sink ${target.name}: ${r.error}`, { sink: target.name });
    }
    result.targets[target.name] = r;
  }
  return result;
}
