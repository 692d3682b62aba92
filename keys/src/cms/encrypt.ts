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
  if (recipients.length === 0) throw new UsageError('encrypt: no recipient certificate given');
  return new CmsEncryptStream(recipients, opts.segmentSize ?? SEGMENT_SIZE);
}

class CmsEncryptStream extends Transform {
  private readonly cipher: Cipher;
  private header: Buffer | null;
  /** Ciphertext not yet framed, fewer than segmentSize bytes. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Header of every full segment (shared: consumers don't modify chunks). */
  private readonly fullHeader: Buffer;

  constructor(
    recipients: Recipient[],
    private readonly segmentSize: number,
  ) {
    super();
    const contentKey = randomBytes(32);
    const iv = randomBytes(16);
    this.cipher = createCipheriv('aes-256-cbc', contentKey, iv);
    this.fullHeader = segmentHeader(segmentSize);
    this.header = envelopeHeader(recipientInfos(recipients, contentKey), iv);
    contentKey.fill(0);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.pushHeader();
      // room for every full segment this chunk can complete
      const most = Math.floor((this.pendingBytes + chunk.length + 16) / this.segmentSize);
      const out = Buffer.allocUnsafe(most * (this.fullHeader.length + this.segmentSize));
      let at = 0;
      // the cipher works on segment-sized slices, so its output is still in cache when copied
      for (let i = 0; i < chunk.length; i += this.segmentSize)
        at = this.appendSegments(this.cipher.update(chunk.subarray(i, i + this.segmentSize)), out, at);
      if (at > 0) this.push(out.subarray(0, at));
      noteAllocated(chunk.length + 2 * at); // input, cipher outputs and `out` are garbage soon
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.pushHeader();
      const out = Buffer.allocUnsafe(2 * (this.fullHeader.length + this.segmentSize));
      let at = this.appendSegments(this.cipher.final(), out, 0);
      const tail = Buffer.concat(this.pending);
      if (tail.length > 0) {
        at += segmentHeader(tail.length).copy(out, at);
        at += tail.copy(out, at);
      }
      // then close [0] content, EncryptedContentInfo, EnvelopedData, [0] EXPLICIT, ContentInfo
      this.push(Buffer.concat([out.subarray(0, at), ...Array(5).fill(END_OF_CONTENTS)]));
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  private pushHeader(): void {
    if (!this.header) return;
    this.push(this.header);
    this.header = null;
  }

  /**
   * Frame ciphertext into `out` at `at` as full primitive OCTET STRING segments; what doesn't
   * fill a segment waits in `pending` (a segment's length must be known before its bytes).
   * All segments of an input chunk go out as one Buffer: a file WriteStream was twice as fast
   * and held half the memory than with a header and a slice per segment. Returns the new end.
   */
  private appendSegments(ciphertext: Buffer, out: Buffer, at: number): number {
    let data = ciphertext;
    if (this.pendingBytes > 0) {
      data = Buffer.concat([...this.pending, ciphertext]);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let i = 0;
    for (; data.length - i >= this.segmentSize; i += this.segmentSize) {
      at += this.fullHeader.copy(out, at);
      at += data.copy(out, at, i, i + this.segmentSize);
    }
    if (i < data.length) {
      // a copy: the rest is a slice of a cipher output we don't want to keep alive
      this.pending = [Buffer.from(data.subarray(i))];
      this.pendingBytes = data.length - i;
    }
    return at;
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
