/**
 * A stored set file as the bytes inside it: the layers are sniffed, not trusted from the name
 * (formats §8.2: duplicity 3.x --use-gpgsm writes CMS under `.gpg`): CMS (DER SEQUENCE 30 80 /
 * 30 8x) is decrypted, then gzip (1f8b, any number of members) is inflated, else the bytes are
 * taken as they are (tar or manifest text). OpenPGP under `.gpg` (duplicity's default gpg) is
 * refused: deaddrop does not decrypt it. Hashes are taken on the way and checked when the
 * data ends, so the last chunk only arrives from an intact file.
 */
import { createHash } from 'node:crypto';
import { pipeline, Readable } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import { DeaddropError } from '@deaddrop/common/errors';
import type { VolumeHash } from '../format/manifest.js';
import { ringDecipher } from '../native/cipher.js';
import { chunkDigest, type ChunkDigest } from '../native/digest.js';
import { igzipInflater } from '../native/igzip.js';
import { GzipError, igzipInflate } from './gunzip.js';
import type { KeySource } from './key.js';
import type { RestoreSource } from './source.js';

export interface Expected {
  /** SHA-256 of the stored bytes (the sums file). */
  sha256?: string;
  /** The manifest's hash (SHA1, or MD5 in old sets): of the duplicity file (inside our CMS; the stored bytes for legacy sets). */
  hash?: VolumeHash;
}

const INFLATE_CHUNK = 512 * 1024;

/** A file whose content does not match what the set says it holds. */
export class TamperedError extends DeaddropError {}

/** `src`'s chunks as they pass, hashed (and counted). */
async function* hashed(
  src: AsyncIterable<Buffer>,
  hash: ChunkDigest,
  onBytes?: (n: number) => void,
): AsyncGenerator<Buffer> {
  for await (const chunk of src) {
    onBytes?.(chunk.length);
    const backlog = hash.update(chunk);
    if (backlog) await backlog;
    yield chunk;
  }
}

async function* copies(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const chunk of src) yield Buffer.from(chunk);
}

/** Inflate when the data starts with the gzip magic (igzip where the addon is built, else zlib); pass it through otherwise. */
async function* maybeGunzip(src: AsyncIterable<Buffer>, what: string, reuse: boolean): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  let head: Buffer = Buffer.alloc(0);
  while (head.length < 2) {
    const r = await it.next();
    if (r.done) break;
    head = head.length ? Buffer.concat([head, r.value]) : r.value;
  }
  const rest = (async function* () {
    if (head.length) yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  })();
  if (head[0] !== 0x1f || head[1] !== 0x8b) return yield* rest;
  const addon = igzipInflater();
  if (addon) {
    try {
      return yield* igzipInflate(addon, rest, reuse);
    } catch (err) {
      if (!(err instanceof GzipError)) throw err;
      throw new DeaddropError(`${what}: corrupt or truncated gzip data (${err.message})`);
    }
  }
  // Inflate runs on the thread pool: each output chunk is a hand-off to and from this thread,
  // so big ones (1 GiB restored to tmpfs: 7.2 s mean with 64 KiB, 6.1 s with 512 KiB). One chunk
  // may wait unread, so the pool inflates the next while this thread handles the last (zlib
  // passes its options on to its Transform; by default, 16 KiB, it stops after every chunk).
  const inflate = { chunkSize: INFLATE_CHUNK, readableHighWaterMark: INFLATE_CHUNK } as ZlibOptions;
  const gunzip = createGunzip(inflate);
  // the streams read ahead and zlib reads its input on the pool: reused buffers go in as copies
  const input = reuse ? copies(rest) : rest;
  pipeline(Readable.from(input), gunzip, () => {}); // an error anywhere destroys both: the reader sees it
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (err) {
    if (err instanceof DeaddropError) throw err;
    throw new DeaddropError(`${what}: corrupt or truncated gzip data (${(err as Error).message})`);
  }
}

/**
 * The first `n` bytes of a stream (fewer when it is shorter) and the whole stream again: the
 * head is peeked from the one read, so a file is opened (or fetched) only once.
 */
async function peek(src: AsyncIterable<Buffer>, n: number): Promise<{ head: Buffer; stream: AsyncGenerator<Buffer> }> {
  const it = src[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let have = 0;
  let done = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    chunks.push(r.value as Buffer);
    have += (r.value as Buffer).length;
  }
  const head = Buffer.concat(chunks).subarray(0, n);
  const all = async function* (): AsyncGenerator<Buffer> {
    try {
      yield* chunks;
      while (!done) {
        const r = await it.next();
        if (r.done) done = true;
        else yield r.value as Buffer;
      }
    } finally {
      // stopped early (an error downstream): close the file or connection now
      if (!done) await it.return?.();
    }
  };
  return { head, stream: all() };
}

/** CMS ContentInfo: a SEQUENCE, indefinite (30 80) or definite long-form length (30 81..84). */
function looksLikeCms(head: Buffer): boolean {
  return head[0] === 0x30 && head[1] !== undefined && head[1] >= 0x80 && head[1] <= 0x84;
}

const PGP_ARMOR = Buffer.from('-----BEGIN PGP');

/**
 * OpenPGP: ASCII armor, or a binary packet (its first byte has bit 7 set, RFC 4880 §4.2).
 * Neither CMS (0x30), gzip (0x1f), tar nor manifest text start so.
 */
function looksLikeOpenPgp(head: Buffer): boolean {
  return head.subarray(0, PGP_ARMOR.length).equals(PGP_ARMOR) || (head.length > 0 && (head[0]! & 0x80) !== 0);
}

export interface PayloadOptions {
  /** Counts the stored bytes as they are read. */
  onStored?: (bytes: number) => void;
  /**
   * The reader is done with each chunk by the time it asks for the one after next (it copies
   * what it keeps): inflated chunks may then reuse a few buffers (gunzip.ts).
   */
  reuse?: boolean;
}

/**
 * The content of a stored file. `what` names it in errors. Checks run at the end of the data:
 * a mismatch is a TamperedError thrown from the iteration.
 */
export async function openPayload(
  source: RestoreSource,
  what: string,
  key: KeySource,
  expect: Expected,
  { onStored, reuse = false }: PayloadOptions = {},
): Promise<AsyncIterable<Buffer>> {
  const opened = reuse && source.chunks ? await source.chunks(what) : await source.open(what);
  const { head, stream: stored } = await peek(opened, PGP_ARMOR.length);
  const encrypted = looksLikeCms(head);
  if (!encrypted && what.endsWith('.gpg') && looksLikeOpenPgp(head)) {
    await stored.return(undefined);
    throw new DeaddropError(
      `${what}: OpenPGP-encrypted (duplicity's gpg): deaddrop cannot decrypt it; restore it with duplicity, see docs/RESTORE.md`,
    );
  }
  const stored256 = chunkDigest('sha256');
  // the manifest's hash (SHA1 or MD5): of the duplicity file, inside our CMS or as stored
  const manifestHash = expect.hash?.algorithm ?? 'sha1';
  const storedHash = !encrypted || what.endsWith('.gpg') ? chunkDigest(manifestHash) : undefined;
  const plainHash = encrypted ? chunkDigest(manifestHash) : undefined;
  // generators, each pulling from the one before as it is pulled: no stream buffers between
  let stream = hashed(stored, stored256, onStored);
  if (storedHash) stream = hashed(stream, storedHash);
  if (encrypted) {
    const { decryptChunks } = await import('@deaddrop/keys/cms/decrypt');
    const decipher = reuse ? (ringDecipher() ?? undefined) : undefined;
    stream = hashed(decryptChunks(stream, await key(), { name: what, decipher }), plainHash!);
  }
  const checked = async function* (): AsyncGenerator<Buffer> {
    try {
      yield* maybeGunzip(stream, what, reuse);
    } finally {
      // stopped early or failed: the generators below the failure are left suspended; this
      // closes the file (or connection) under them all
      await stored.return(undefined);
    }
    const got256 = await stored256.digest();
    if (expect.sha256 !== undefined && got256 !== expect.sha256)
      throw new TamperedError(
        `${what}: SHA-256 ${got256} differs from the sums file (${expect.sha256}): tampered or corrupt`,
      );
    if (expect.hash !== undefined) {
      const candidates = [await plainHash?.digest(), await storedHash?.digest()];
      const label = expect.hash.algorithm === 'sha1' ? 'SHA-1' : 'MD5';
      if (!candidates.includes(expect.hash.hex))
        throw new TamperedError(
          `${what}: ${label} ${candidates.filter(Boolean).join('/')} differs from the manifest (${expect.hash.hex}): tampered or corrupt`,
        );
    }
  };
  return checked();
}

/** SHA-256 of a whole stored file: to tell tampering from other damage after a failed decode. */
export async function fileSha256(source: RestoreSource, name: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of await source.open(name)) h.update(chunk as Buffer);
  return h.digest('hex');
}
