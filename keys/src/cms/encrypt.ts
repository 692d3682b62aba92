import { createCipheriv, randomBytes, type Cipher } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { UsageError } from '@deaddrop/common';
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

  constructor(
    recipients: Recipient[],
    private readonly segmentSize: number,
  ) {
    super();
    const contentKey = randomBytes(32);
    const iv = randomBytes(16);
    this.cipher = createCipheriv('aes-256-cbc', contentKey, iv);
    this.header = envelopeHeader(recipientInfos(recipients, contentKey), iv);
    contentKey.fill(0);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.pushHeader();
      this.frame(this.cipher.update(chunk), false);
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

  /** Emit full segments of ciphertext; with `last`, also the remainder. */
  private frame(ciphertext: Buffer, last: boolean): void {
    let data = ciphertext;
    if (this.pendingBytes > 0 && data.length > 0) {
      data = Buffer.concat([...this.pending, data]);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let offset = 0;
    while (data.length - offset >= this.segmentSize) {
      this.push(segment(data.subarray(offset, offset + this.segmentSize)));
      offset += this.segmentSize;
    }
    const rest = data.subarray(offset);
    if (last) {
      if (rest.length > 0) this.push(segment(rest));
      else if (this.pendingBytes > 0) this.push(segment(Buffer.concat(this.pending)));
    } else if (rest.length > 0) {
      // copy: `data` may be a slice of a large cipher output we don't want to keep alive
      this.pending.push(Buffer.from(rest));
      this.pendingBytes += rest.length;
    }
  }
}

/** One primitive OCTET STRING carrying a piece of ciphertext. */
function segment(bytes: Buffer): Buffer {
  const len = derLength(bytes.length);
  const out = Buffer.allocUnsafe(1 + len.length + bytes.length);
  out[0] = Tag.OCTET_STRING;
  len.copy(out, 1);
  bytes.copy(out, 1 + len.length);
  return out;
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
