import { constants, publicEncrypt } from 'node:crypto';
import { encodeOid, Oid } from '../asn1/oids.js';
import { setOf, Tag, tlv } from '../asn1/der.js';
import type { Recipient } from '../recipients.js';

/**
 * KeyTransRecipientInfo v0 (RFC 5652 6.2.1): the content-encryption key wrapped with
 * RSAES-PKCS1-v1_5 (the only key transport openssl smime and gpgsm 2.2 both decrypt), the
 * recipient named by IssuerAndSerialNumber (gpgsm can't find its key by SubjectKeyIdentifier).
 */
export function keyTransRecipientInfo(recipient: Recipient, contentKey: Buffer): Buffer {
  const encryptedKey = publicEncrypt({ key: recipient.publicKey, padding: constants.RSA_PKCS1_PADDING }, contentKey);
  return tlv(
    Tag.SEQUENCE,
    tlv(Tag.INTEGER, Buffer.from([0])),
    tlv(Tag.SEQUENCE, recipient.issuerDer, recipient.serialDer),
    tlv(Tag.SEQUENCE, tlv(Tag.OID, encodeOid(Oid.rsaEncryption)), tlv(Tag.NULL)),
    tlv(Tag.OCTET_STRING, encryptedKey),
  );
}

/** RecipientInfos: a DER SET OF one KeyTransRecipientInfo per recipient. */
export function recipientInfos(recipients: Recipient[], contentKey: Buffer): Buffer {
  return setOf(recipients.map((r) => keyTransRecipientInfo(r, contentKey)));
}
