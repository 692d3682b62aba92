import type { Transform } from 'node:stream';
import { DeaddropError } from '@deaddrop/common/errors';
import { noteAllocated } from '@deaddrop/common/young-gc';
import { decodeOid, Oid } from '../asn1/oids.js';
import { transformFromGenerator } from '../generator-transform.js';
import type { PrivateKey } from '../private-key.js';
import {
  BerFormatError,
  closeElement,
  octetStringContents,
  readElement,
  readHeader,
  type BerHeader,
} from './ber-reader.js';
import { ByteReader, TruncatedError } from './byte-reader.js';
import { contentCipher } from './content-cipher.js';
import { parseRecipientInfos, unwrapContentKey } from './key-unwrap.js';

/** A CMS message that can't be decrypted: corrupt, truncated, or not for this key (exit 1). */
export class CmsError extends DeaddropError {
  constructor(message: string) {
    super(message, 1);
    this.name = 'CmsError';
  }
}

/**
 * CMS EnvelopedData in, plaintext out, streaming: reads what openssl smime/cms (with and without
 * -stream), gpgsm and deaddrop write (BER definite or indefinite, primitive or constructed
 * content). Truncation, missing end-of-contents and bad padding are errors; the last plaintext
 * block is held back until the whole structure has been read, so a stream that ends early
 * never looks complete. CBC has no integrity: flipped ciphertext bits decrypt to garbage.
 */
export function createDecryptStream(key: PrivateKey, opts: { name?: string } = {}): Transform {
  return transformFromGenerator((source) => decryptChunks(source, key, opts));
}

/** Decrypts the content: node:crypto's Decipher by default; the caller may give one that writes into buffers of its own. */
export type OutputDecipher = (
  name: string,
  key: Buffer,
  iv: Buffer,
) => { update(piece: Buffer): Buffer; final(): Buffer };

export interface DecryptOptions {
  name?: string;
  /** Writes each chunk into a buffer the reader is done with by the time it asks for the third chunk after. */
  decipher?: OutputDecipher;
}

/**
 * The same as a generator that pulls from `source` as it is pulled: no stream buffers between,
 * so each chunk is done with sooner (a chunk held across scavenges waits for a full GC).
 */
export function decryptChunks(
  source: AsyncIterable<Buffer>,
  key: PrivateKey,
  opts: DecryptOptions = {},
): AsyncGenerator<Buffer> {
  return decryptMessage(source, key, opts.name ?? 'CMS input', opts.decipher);
}

async function* decryptMessage(
  source: AsyncIterable<Buffer>,
  key: PrivateKey,
  name: string,
  own?: OutputDecipher,
): AsyncGenerator<Buffer> {
  const r = new ByteReader(source[Symbol.asyncIterator]());
  try {
    yield* envelopedData(r, key, name, own);
  } catch (err) {
    if (err instanceof TruncatedError) throw new CmsError(`${name}: truncated: ${err.message}`);
    if (err instanceof BerFormatError) throw new CmsError(`${name}: corrupt: ${err.message}`);
    if (err instanceof DeaddropError) throw err;
    throw new CmsError(`${name}: ${(err as Error).message}`);
  }
}

async function* envelopedData(
  r: ByteReader,
  key: PrivateKey,
  name: string,
  own?: OutputDecipher,
): AsyncGenerator<Buffer> {
  if (await r.atEnd()) throw new CmsError(`${name}: empty input, not a CMS message`);
  const contentInfo = await readHeader(r, 'ContentInfo');
  if (!isUniversal(contentInfo, 16))
    throw new CmsError(`${name}: not a DER/BER CMS message (PEM or S/MIME input? use -outform DER)`);
  const contentType = await readOid(r, 'ContentInfo.contentType');
  if (contentType === Oid.authEnvelopedData)
    throw new CmsError(`${name}: AuthEnvelopedData (AES-GCM) is not supported; expected EnvelopedData`);
  if (contentType !== Oid.envelopedData)
    throw new CmsError(`${name}: content type ${contentType} is not EnvelopedData`);
  const explicit = await readHeader(r, 'ContentInfo.content');
  const enveloped = await readHeader(r, 'EnvelopedData');
  if (!isContext(explicit, 0) || !isUniversal(enveloped, 16)) throw new BerFormatError('EnvelopedData: unexpected tag');
  await readElement(r, await expectUniversal(r, 2, 'EnvelopedData.version'), 'EnvelopedData.version');

  let next = await readHeader(r, 'EnvelopedData');
  if (isContext(next, 0)) {
    await readElement(r, next, 'EnvelopedData.originatorInfo'); // certificates/CRLs: not needed
    next = await readHeader(r, 'EnvelopedData');
  }
  if (!isUniversal(next, 17)) throw new BerFormatError('EnvelopedData.recipientInfos: expected a SET');
  const infos = parseRecipientInfos(await readElement(r, next, 'EnvelopedData.recipientInfos'));

  const encryptedContentInfo = await expectUniversal(r, 16, 'EncryptedContentInfo');
  await readOid(r, 'EncryptedContentInfo.contentType');
  const algHeader = await expectUniversal(r, 16, 'contentEncryptionAlgorithm');
  const cipher = contentCipher(await readElement(r, algHeader, 'contentEncryptionAlgorithm'));

  const contentKey = pickContentKey(infos, key, cipher.keyLength, name);
  const decipher = own ? own(cipher.name, contentKey, cipher.iv) : cipher.decipher(contentKey);
  contentKey.fill(0);

  const content = await readHeader(r, 'EncryptedContentInfo');
  if (content.tagClass !== 2 || content.tagNumber !== 0)
    throw new CmsError(`${name}: no encryptedContent (detached content is not supported)`);
  for await (const piece of octetStringContents(r, content, 'encryptedContent')) {
    const out = decipher.update(piece);
    noteAllocated(piece.length + (own ? 0 : out.length)); // (its own buffers are not garbage)
    if (out.length > 0) yield out;
  }
  let last: Buffer;
  try {
    last = decipher.final();
  } catch {
    throw new CmsError(`${name}: decryption failed: bad padding (corrupt data or a wrong key)`);
  }
  // the rest of the structure must be there (EOCs or definite ends) before the last block goes out
  await closeElement(r, encryptedContentInfo, 'EncryptedContentInfo');
  await closeElement(r, enveloped, 'EnvelopedData'); // skips unprotectedAttrs
  await closeElement(r, explicit, 'ContentInfo.content');
  await closeElement(r, contentInfo, 'ContentInfo');
  if (!(await r.atEnd())) throw new BerFormatError(`trailing data after the CMS message at byte ${r.position}`);
  if (last.length > 0) yield last;
}

/** Unwrap the content key from the RecipientInfo meant for our key (any that unwraps cleanly). */
function pickContentKey(
  infos: ReturnType<typeof parseRecipientInfos>,
  key: PrivateKey,
  keyLength: number,
  name: string,
): Buffer {
  for (const info of infos.keyTrans) {
    const cek = unwrapContentKey(info, key);
    if (cek && cek.length === keyLength) return cek;
  }
  const labels = infos.keyTrans.map((i) =>
    i.oaep.unsupported ? `${i.label} (${i.oaep.unsupported}: not supported)` : i.label,
  );
  if (infos.others > 0) labels.push(`${infos.others} non-RSA recipient(s)`);
  const list = `(recipients: ${labels.join('; ') || 'none'})`;
  // a recipient we cannot try may be ours: say so rather than blame the key
  if (infos.keyTrans.some((i) => i.oaep.unsupported))
    throw new CmsError(`${name}: cannot decrypt with ${key.source} (RSA-${key.bits}) ${list}`);
  throw new CmsError(`${name}: wrong key: ${key.source} (RSA-${key.bits}) is not a recipient of this message ${list}`);
}

function isUniversal(h: BerHeader, tagNumber: number): boolean {
  return h.tagClass === 0 && h.tagNumber === tagNumber;
}

function isContext(h: BerHeader, tagNumber: number): boolean {
  return h.tagClass === 2 && h.tagNumber === tagNumber && h.constructed;
}

async function expectUniversal(r: ByteReader, tagNumber: number, what: string): Promise<BerHeader> {
  const h = await readHeader(r, what);
  if (!isUniversal(h, tagNumber))
    throw new BerFormatError(`${what}: unexpected tag at byte ${h.contentStart - h.raw.length}`);
  return h;
}

async function readOid(r: ByteReader, what: string): Promise<string> {
  const h = await expectUniversal(r, 6, what);
  if (h.length === null || h.length > 64) throw new BerFormatError(`${what}: bad OID length`);
  return decodeOid(await r.read(h.length, what));
}
