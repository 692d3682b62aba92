import { constants, privateDecrypt } from 'node:crypto';
import { decodeOid, Oid } from '../asn1/oids.js';
import { child, CONTEXT, octetStringValue, parseAsn1, UNIVERSAL, type Asn1Node } from '../asn1/tree.js';
import type { PrivateKey } from '../private-key.js';

/** One KeyTransRecipientInfo of a message, as far as we need it. */
export interface KeyTransInfo {
  /** issuerAndSerialNumber DER (issuer Name + serial INTEGER), or null for a SubjectKeyIdentifier rid. */
  issuerAndSerial: Buffer | null;
  /** A short description for messages: "CN=x serial 01ab" or "subjectKeyIdentifier 12ab". */
  label: string;
  algorithm: string;
  /** OAEP hash for rsaesOaep, from RSAES-OAEP-params (SHA-1 when absent). */
  oaepHash: string;
  encryptedKey: Buffer;
}

/** Parse RecipientInfos; other kinds (kari, kekri, pwri) are counted but not usable with an RSA key. */
export function parseRecipientInfos(der: Buffer): { keyTrans: KeyTransInfo[]; others: number } {
  const set = parseAsn1(der, 'RecipientInfos');
  const keyTrans: KeyTransInfo[] = [];
  let others = 0;
  for (const ri of set.children) {
    if (ri.tagClass !== UNIVERSAL || ri.tagNumber !== 16) {
      others++;
      continue;
    }
    const rid = child(ri, 1, 'KeyTransRecipientInfo.rid');
    const alg = child(child(ri, 2, 'KeyTransRecipientInfo.keyEncryptionAlgorithm'), 0, 'keyEncryptionAlgorithm');
    const algorithm = decodeOid(alg.contents);
    const params = child(ri, 2, 'keyEncryptionAlgorithm').children[1];
    keyTrans.push({
      issuerAndSerial: rid.tagClass === UNIVERSAL ? Buffer.concat(rid.children.map((c) => c.raw)) : null,
      label:
        rid.tagClass === UNIVERSAL ? issuerSerialLabel(rid) : `subjectKeyIdentifier ${rid.contents.toString('hex')}`,
      algorithm,
      oaepHash: algorithm === Oid.rsaesOaep && params ? oaepHashOf(params) : 'sha1',
      encryptedKey: octetStringValue(child(ri, 3, 'KeyTransRecipientInfo.encryptedKey')),
    });
  }
  return { keyTrans, others };
}

const HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.4': 'sha224',
};

/** RSAES-OAEP-params: [0] hashAlgorithm (default SHA-1); MGF1 uses the same hash in node:crypto. */
function oaepHashOf(params: Asn1Node): string {
  const hashTagged = params.children.find((c) => c.tagClass === CONTEXT && c.tagNumber === 0);
  const hashAlg = hashTagged?.children[0]?.children[0];
  if (!hashAlg) return 'sha1';
  const oid = decodeOid(hashAlg.contents);
  const name = HASHES[oid];
  if (!name) throw new Error(`RSAES-OAEP hash ${oid} is not supported`);
  return name;
}

function issuerSerialLabel(issuerAndSerial: Asn1Node): string {
  const issuer = child(issuerAndSerial, 0, 'issuer');
  const serial = child(issuerAndSerial, 1, 'serialNumber').contents.toString('hex');
  let cn = '';
  for (const rdn of issuer.children)
    for (const atv of rdn.children) {
      const type = atv.children[0];
      if (type && decodeOid(type.contents) === Oid.commonName) cn = atv.children[1]?.contents.toString('utf8') ?? '';
    }
  return `${cn ? `CN=${cn}` : 'issuer'} serial ${serial}`;
}

/**
 * Unwrap a content-encryption key with our RSA key, or null when this RecipientInfo isn't ours.
 * PKCS#1 v1.5: node 20 refuses RSA_PKCS1_PADDING for private decryption (CVE-2023-46809, a
 * timing oracle for online services), so the raw RSA result is unpadded here; restore is
 * offline, nobody can query it as an oracle.
 */
export function unwrapContentKey(info: KeyTransInfo, key: PrivateKey): Buffer | null {
  const modulusBytes = Math.ceil(key.bits / 8);
  if (info.encryptedKey.length !== modulusBytes) return null;
  if (info.algorithm === Oid.rsaEncryption) {
    let em: Buffer;
    try {
      em = privateDecrypt({ key: key.keyObject, padding: constants.RSA_NO_PADDING }, info.encryptedKey);
    } catch {
      return null; // e.g. "data too large for modulus": made for another key of the same size
    }
    return unpadPkcs1Type2(em);
  }
  if (info.algorithm === Oid.rsaesOaep) {
    try {
      return privateDecrypt(
        { key: key.keyObject, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: info.oaepHash },
        info.encryptedKey,
      );
    } catch {
      return null;
    }
  }
  return null;
}

/** EME-PKCS1-v1_5 decoding (RFC 8017 7.2.2): 00 02 PS (>= 8 nonzero bytes) 00 M. */
export function unpadPkcs1Type2(em: Buffer): Buffer | null {
  if (em.length < 11 || em[0] !== 0x00 || em[1] !== 0x02) return null;
  const separator = em.indexOf(0x00, 2);
  if (separator < 10) return null;
  return Buffer.from(em.subarray(separator + 1));
}
