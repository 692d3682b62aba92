/**
 * The optional ISA-L addon (client/native/igzip.c, built when libisal-dev is installed): igzip's
 * deflate for the backup (backup/gzip-member.ts) and inflate for the restore (restore/gunzip.ts).
 * Hosts without it use zlib; DEADDROP_DEFLATE=zlib turns it off.
 */
import { loadAddon } from './load-addon.js';

/** An inflate stream's state, owned by the addon. */
export type InflaterHandle = { readonly __inflater: unique symbol };

export interface Igzip {
  gzipMember(data: Uint8Array, level: number): Buffer | null;
  /** Stored blocks, zlib's level 0 byte for byte. (An addon built before it has none: zlib then.) */
  storedMember?(data: Uint8Array): Buffer;
  /** (An addon built before the restore's inflate has neither: zlib inflates then.) */
  inflater?(): InflaterHandle;
  /** Inflate what fits: [bytes of input used, bytes of output made, a member's trailer checked out]. */
  inflate?(handle: InflaterHandle, input: Uint8Array, output: Uint8Array): [number, number, boolean];
}

/** The addon's inflate, where it has one. */
export type IgzipInflate = Required<Pick<Igzip, 'inflater' | 'inflate'>>;

export function igzipInflater(): IgzipInflate | null {
  const addon = igzip();
  return addon?.inflater && addon.inflate ? (addon as IgzipInflate) : null;
}

/** The addon, or null where it is not built (or turned off: zlib does it then). */
export function igzip(): Igzip | null {
  return loadAddon<Igzip>('igzip', process.env.DEADDROP_DEFLATE === 'zlib');
}
