/**
 * The few DER/BER pieces the CMS writer needs. Small items are written as DER; the streaming
 * parts use BER indefinite lengths (0x80) closed by end-of-contents octets (00 00).
 */

/** DER length octets: short form below 128, else 0x80|n followed by n big-endian bytes. */
export function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** A complete DER TLV: tag byte, definite length, contents. */
export function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

/** The header of a BER element with indefinite length; close it with END_OF_CONTENTS. */
export function indefinite(tag: number): Buffer {
  return Buffer.from([tag, 0x80]);
}

export const END_OF_CONTENTS = Buffer.from([0x00, 0x00]);

/** DER SET OF: elements sorted by their encodings (X.690 11.6). */
export function setOf(elements: Buffer[]): Buffer {
  return tlv(Tag.SET, ...[...elements].sort(Buffer.compare));
}

export const Tag = {
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
  /** [0] constructed (EXPLICIT [0], or IMPLICIT [0] of a constructed OCTET STRING). */
  CONTEXT_0_CONSTRUCTED: 0xa0,
  /** [0] primitive (IMPLICIT [0] OCTET STRING in one piece). */
  CONTEXT_0_PRIMITIVE: 0x80,
} as const;
