/**
 * Tar entries as byte blocks: header (pax when needed) + data + zero padding. Volumes end
 * without an end-of-archive marker (as duplicity's do); signature archives end with two zero
 * blocks padded to a 10240-byte record (formats §5.6, §6).
 */
import { BLOCK, dataPadding, encodeHeader, type TarHeader } from './tar-header.js';

export const RECORD = 20 * BLOCK;

/** Header blocks + data + padding of one entry whose data is fully in memory. */
export function tarEntry(header: TarHeader, data?: Buffer): Buffer {
  const size = data?.length ?? 0;
  if (header.size !== size) throw new Error(`tar entry size ${header.size} != data ${size}`);
  return size === 0 ? encodeHeader(header) : Buffer.concat([encodeHeader(header), data!, dataPadding(size)]);
}

/** Two zero blocks, then zeros up to the next multiple of RECORD after `written` bytes. */
export function endOfArchive(written: number): Buffer {
  const end = written + 2 * BLOCK;
  return Buffer.alloc(2 * BLOCK + ((RECORD - (end % RECORD)) % RECORD));
}
