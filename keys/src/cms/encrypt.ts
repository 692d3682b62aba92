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
      this.frame(this.cipher.update(chunk), false);
      noteAllocated(2 * chunk.length); // the input chunk and the cipher output are garbage soon
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.pushHeader();
      this.frame(this.cipher.final(), true);
      // closes [0] content, EncryptedContentInfo, EnvelopedData, [0] EXPLICIT, ContentInfo
      this.push(Buffer.concat(Array(5).fill(END_OF_CONTENTS)));
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
   * Frame ciphertext as primitive OCTET STRING segments of segmentSize bytes, all full segments
   * of one cipher output copied into one Buffer: one chunk per input chunk downstream (a file
   * WriteStream is twice as fast and holds half the memory as with a header and a slice per
   * segment). The remainder waits for more ciphertext, or with `last` is the final segment.
   */
  private frame(ciphertext: Buffer, last: boolean): void {
    let data = ciphertext;
    if (this.pendingBytes > 0) {
      data = Buffer.concat([...this.pending, ciphertext]);
      this.pending = [];
      this.pendingBytes = 0;
    }
    const full = Math.floor(data.length / this.segmentSize);
    const rest = data.subarray(full * this.segmentSize);
    const tailHeader = last && rest.length > 0 ? segmentHeader(rest.length) : null;
    if (full > 0 || tailHeader) {
      const size =
        full * (this.fullHeader.length + this.segmentSize) + (tailHeader ? tailHeader.length + rest.length : 0);
      const out = Buffer.allocUnsafe(size);
      let at = 0;
      for (let i = 0; i < full; i++) {
        at += this.fullHeader.copy(out, at);
        at += data.copy(out, at, i * this.segmentSize, (i + 1) * this.segmentSize);
      }
      if (tailHeader) rest.copy(out, at + tailHeader.copy(out, at));
      noteAllocated(size);
      this.push(out);
    }
    if (!last && rest.length > 0) {
      // a copy: `rest` is a slice of a large cipher output we don't want to keep alive
      this.pending.push(Buffer.from(rest));
      this.pendingBytes = rest.length;
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
