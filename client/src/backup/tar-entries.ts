/**
 * Read tar entries from a stream (pax, GNU long names, ustar), as needed to load cached
 * signature archives. Each entry's data may be read once before the next entry is asked for;
 * unread data is skipped. Stops at the first zero block or at the end of the data.
 */
import { DeaddropError } from '@deaddrop/common/errors';
import {
  applyExtensions,
  BLOCK,
  decodeRawHeader,
  isZeroBlock,
  parsePaxRecords,
  type RawHeader,
} from '../archive/tar-header.js';
import { ByteReader } from './byte-reader.js';

export interface TarEntry {
  header: RawHeader;
  /** The entry's data (call at most once, before advancing). */
  read(): Promise<Buffer>;
}

const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

export async function* readTarEntries(source: AsyncIterable<Buffer>, what = 'tar'): AsyncGenerator<TarEntry> {
  const r = new ByteReader(source);
  let pax: Map<string, Buffer> | undefined;
  let gnuName: Buffer | undefined;
  let gnuLink: Buffer | undefined;
  try {
    for (;;) {
      const block = await r.read(BLOCK);
      if (block.length === 0 || isZeroBlock(block)) return;
      if (block.length < BLOCK) throw new DeaddropError(`${what}: truncated header`);
      let raw: RawHeader;
      try {
        raw = decodeRawHeader(block);
      } catch (err) {
        throw new DeaddropError(`${what}: ${(err as Error).message}`);
      }
      if (raw.type === 'x' || raw.type === 'g' || raw.type === 'L' || raw.type === 'K') {
        const data = await r.read(raw.size);
        if (data.length < raw.size) throw new DeaddropError(`${what}: truncated extended header`);
        await r.skip(padded(raw.size) - raw.size);
        if (raw.type === 'x') pax = parsePaxRecords(data);
        else if (raw.type === 'L') gnuName = cstr(data);
        else if (raw.type === 'K') gnuLink = cstr(data);
        continue;
      }
      const header = applyExtensions(raw, pax, gnuName, gnuLink);
      pax = gnuName = gnuLink = undefined;
      let consumed = false;
      yield {
        header,
        async read() {
          if (consumed) throw new Error('tar entry data read twice');
          consumed = true;
          const data = await r.read(header.size);
          if (data.length < header.size) throw new DeaddropError(`${what}: truncated data of an entry`);
          await r.skip(padded(header.size) - header.size);
          return data;
        },
      };
      if (!consumed) {
        consumed = true;
        const want = padded(header.size);
        if ((await r.skip(want)) < header.size) throw new DeaddropError(`${what}: truncated data of an entry`);
      }
    }
  } finally {
    await r.close();
  }
}

function cstr(b: Buffer): Buffer {
  const nul = b.indexOf(0);
  return Buffer.from(nul < 0 ? b : b.subarray(0, nul));
}
