/**
 * Where restore, list and verify read a host's stored files: a directory (a sink's root or a
 * host directory, copied or mounted) or a WebDAV sink read with a reader account. The rest of
 * restore sees only this interface.
 */
import type { Readable } from 'node:stream';
import { DeaddropError, UsageError } from '@deaddrop/common/errors';

/**
 * A stored file that could not be read whole from the source (its connection kept breaking):
 * nothing is known of its bytes, so it is reported as it is, never as a file that differs from
 * the sums file, and not read once more to find out (read-volumes.ts explain()).
 */
export class SourceReadError extends DeaddropError {}

export interface RestoreSource {
  /** The host directory, for messages and reports (a path, or a URL without credentials). */
  readonly where: string;
  /**
   * When --from named the host directory itself (not a sink root holding HOST/): its name,
   * which need not be the host's (a copy), so restore checks the sets' Hostname against --host.
   */
  readonly dirName?: string;
  /** Every file in the host directory: name → size in bytes. */
  list(): Promise<Map<string, number>>;
  /** A stored file's bytes, streamed. */
  open(name: string): Promise<Readable>;
  /**
   * The same bytes read into a few buffers reused in turn, for a reader that is done with each
   * chunk by the time it asks for the one after next (no garbage: a 256 KiB chunk per read held
   * across scavenges waits for a full GC). Where absent, open() serves.
   */
  chunks?(name: string): Promise<AsyncIterable<Buffer>>;
  /** A small stored file (a sums file) whole. */
  readSmall(name: string): Promise<Buffer>;
  /** Release connections (the process would otherwise stay up). */
  close(): void;
}

export interface SourceSpec {
  /** DIR or http(s)://HOST:PORT/PREFIX/ (sink root) or .../PREFIX/HOST/. */
  from: string;
  host: string;
  /** curl-style netrc with the reader account (URL only). */
  netrc?: string;
  /** PEM CA for an https sink (URL only). */
  ca?: string;
  /** Debug-level messages (--verbose), e.g. names in a host directory that are ignored. */
  debug?: (message: string) => void;
}

export const isUrl = (from: string): boolean => /^https?:\/\//i.test(from);

export async function openSource(spec: SourceSpec): Promise<RestoreSource> {
  if (isUrl(spec.from)) {
    const { openWebDavSource } = await import('./webdav-source.js');
    return openWebDavSource(spec);
  }
  if (spec.netrc !== undefined || spec.ca !== undefined)
    throw new UsageError(`--netrc and --ca are for --from URL; ${spec.from} is a directory`);
  const { openDirSource } = await import('./dir-source.js');
  return openDirSource(spec.from, spec.host, spec.debug);
}
