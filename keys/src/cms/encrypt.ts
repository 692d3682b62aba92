import { createCipheriv, randomBytes, type Cipher } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { UsageError } from '@deaddrop/common/errors';
import { noteAllocated } from '@deaddrop/common/young-gc';
import { derLength, END_OF_CONTENTS, indefinite, Tag, tlv } from '../asn1/der.js';
import { encodeOid, Oid } from '../asn1/oids.js';
import type { Recipient } from '../recipients.js';
import { recipientInfos } from './recipient-info.js';

/** Ciphertext per primitive OCTET STRING segment: 5 bytes of framing per 64 KiB (0.008 %). */
export const SEGMENT_SIZE = 64 * 1024;

/**
 * CMS EnvelopedData (RFC 5652) as a stream: plaintext in, BER out, AES-256-CBC content
 * encryption. Lengths are indefinite and the content is a constructed [0] of primitive OCTET
 * STRING segments, the layout `openssl smime -stream` and gpgsm write and all of openssl
 * smime, openssl cms and gpgsm read (docs/FORMAT.md "Encryption layer").
 */
export function createEncryptStream(recipients: Recipient[], opts: { segmentSize?: number } = {}): Transform {
  return new CmsEncryptStream(new CmsEncryptor(recipients, opts.segmentSize));
}

/**
 * The same, one call per piece: update() returns the BER that a piece of plaintext completes
 * (the envelope's header first) and keeps nothing of the piece, so a caller may reuse or free
 * it as soon as update() returns; final() returns the rest.
 */
export class CmsEncryptor {
  private readonly cipher: Cipher;
  private header: Buffer | null;
  /** Ciphertext not yet framed, fewer than segmentSize bytes. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Plaintext given to the cipher so far. */
  private fed = 0;
  /** Header of every full segment (shared: consumers don't modify chunks). */
  private readonly fullHeader: Buffer;

  constructor(
    recipients: Recipient[],
    private readonly segmentSize = SEGMENT_SIZE,
  ) {
    if (recipients.length === 0) throw new UsageError('encrypt: no recipient certificate given');
    const contentKey = randomBytes(32);
    const iv = randomBytes(16);
    this.cipher = createCipheriv('aes-256-cbc', contentKey, iv);
    this.fullHeader = segmentHeader(segmentSize);
    this.header = envelopeHeader(recipientInfos(recipients, contentKey), iv);
    contentKey.fill(0);
  }

  update(chunk: Uint8Array): Buffer {
    // room for the header and every full segment this chunk can complete
    const most = Math.floor((this.pendingBytes + chunk.length + 16) / this.segmentSize);
    const out = Buffer.allocUnsafe((this.header?.length ?? 0) + most * (this.fullHeader.length + this.segmentSize));
    let at = this.takeHeader(out);
    // Slices end where the plaintext so far is a whole number of segments: CBC's output so far
    // is then exactly that many bytes (whole 16-byte blocks), so the slice's ciphertext with
    // what is pending makes whole segments, and only a chunk's end leaves some pending.
    for (let i = 0; i < chunk.length;) {
      const n = Math.min(chunk.length - i, this.segmentSize - (this.fed % this.segmentSize));
      at = this.appendSegments(this.cipher.update(chunk.subarray(i, i + n)), out, at);
      this.fed += n;
      i += n;
    }
    noteAllocated(chunk.length + 2 * at); // the cipher's outputs now, `out` once written
    return out.subarray(0, at);
  }

  final(): Buffer {
    const out = Buffer.allocUnsafe((this.header?.length ?? 0) + 2 * (this.fullHeader.length + this.segmentSize));
    let at = this.takeHeader(out);
    at = this.appendSegments(this.cipher.final(), out, at);
    if (this.pendingBytes > 0) {
      at += segmentHeader(this.pendingBytes).copy(out, at);
      for (const p of this.pending) at += p.copy(out, at);
    }
    // then close [0] content, EncryptedContentInfo, EnvelopedData, [0] EXPLICIT, ContentInfo
    return Buffer.concat([out.subarray(0, at), ...Array(5).fill(END_OF_CONTENTS)]);
  }

  private takeHeader(out: Buffer): number {
    if (!this.header) return 0;
    const n = this.header.copy(out, 0);
    this.header = null;
    return n;
  }

  /**
   * Frame ciphertext into `out` at `at` as full primitive OCTET STRING segments, after what is
   * pending; what doesn't fill a segment waits in `pending` (a segment's length must be known
   * before its bytes). All segments of an input chunk go out as one Buffer: a file WriteStream
   * was twice as fast and held half the memory than with a header and a slice per segment.
   * Returns the new end.
   */
  private appendSegments(ciphertext: Buffer, out: Buffer, at: number): number {
    let i = 0;
    if (this.pendingBytes > 0) {
      i = Math.min(ciphertext.length, this.segmentSize - this.pendingBytes);
      if (this.pendingBytes + i < this.segmentSize) {
        this.keep(ciphertext, 0);
        return at;
      }
      at += this.fullHeader.copy(out, at);
      for (const p of this.pending) at += p.copy(out, at);
      at += ciphertext.copy(out, at, 0, i);
      this.pending = [];
      this.pendingBytes = 0;
    }
    for (; ciphertext.length - i >= this.segmentSize; i += this.segmentSize) {
      at += this.fullHeader.copy(out, at);
      at += ciphertext.copy(out, at, i, i + this.segmentSize);
    }
    if (i < ciphertext.length) this.keep(ciphertext, i);
    return at;
  }

  /** Keep ciphertext[from..] pending: a copy, not a slice of a cipher output we don't want to keep alive. */
  private keep(ciphertext: Buffer, from: number): void {
    const rest = Buffer.from(ciphertext.subarray(from));
    this.pending.push(rest);
    this.pendingBytes += rest.length;
  }
}

class CmsEncryptStream extends Transform {
  constructor(private readonly encryptor: CmsEncryptor) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      const out = this.encryptor.update(chunk);
      if (out.length > 0) this.push(out);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.push(this.encryptor.final());
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}

/** Identifier and length octets of a primitive OCTET STRING of `length` bytes. */
function segmentHeader(length: number): Buffer {
  return Buffer.concat([Buffer.from([Tag.OCTET_STRING]), derLength(length)]);
}

/** Everything before the first ciphertext segment (layout in docs/FORMAT.md). */
function envelopeHeader(infos: Buffer, iv: Buffer): Buffer {
  return Buffer.concat([
    indefinite(Tag.SEQUENCE), // ContentInfo
    tlv(Tag.OID, encodeOid(Oid.envelopedData)),
    indefinite(Tag.CONTEXT_0_CONSTRUCTED), // [0] EXPLICIT content
    indefinite(Tag.SEQUENCE), // EnvelopedData
    tlv(Tag.INTEGER, Buffer.from([0])), // version 0: ktri v0 only, no originatorInfo/unprotectedAttrs
    infos,
    indefinite(Tag.SEQUENCE), // EncryptedContentInfo
    tlv(Tag.OID, encodeOid(Oid.data)),
    tlv(Tag.SEQUENCE, tlv(Tag.OID, encodeOid(Oid.aes256Cbc)), tlv(Tag.OCTET_STRING, iv)),
    indefinite(Tag.CONTEXT_0_CONSTRUCTED), // [0] IMPLICIT encryptedContent, constructed
  ]);
}
