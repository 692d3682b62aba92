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
  /** rsaesOaep: RSAES-OAEP-params (SHA-1 and no label when absent). */
  oaep: OaepParams;
  encryptedKey: Buffer;
}

export interface OaepParams {
  hash: string;
  label?: Buffer;
  /** Why this recipient's OAEP cannot be undone here (then it is never tried). */
  unsupported?: string;
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
      oaep: algorithm === Oid.rsaesOaep && params ? oaepParamsOf(params) : { hash: 'sha1' },
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

/** The hash an AlgorithmIdentifier names: its name, or the OID when we do not know it. */
function hashName(algorithmIdentifier: Asn1Node | undefined): string {
  const oid = algorithmIdentifier?.children[0];
  if (!oid) return 'sha1';
  const dotted = decodeOid(oid.contents);
  return HASHES[dotted] ?? dotted;
}

/**
 * RSAES-OAEP-params (RFC 8017 A.2.1): [0] hashAlgorithm (SHA-1), [1] maskGenAlgorithm (MGF1
 * with SHA-1), [2] pSourceAlgorithm (an empty label). node:crypto's MGF1 always uses the OAEP
 * hash: other pairs are marked unsupported, so they are named instead of read as "wrong key".
 */
function oaepParamsOf(params: Asn1Node): OaepParams {
  const field = (n: number) => params.children.find((c) => c.tagClass === CONTEXT && c.tagNumber === n)?.children[0];
  const hash = hashName(field(0));
  const mgf = field(1);
  const mgfOid = mgf?.children[0] ? decodeOid(mgf.children[0].contents) : Oid.mgf1;
  const mgfHash = mgf ? hashName(mgf.children[1]) : 'sha1';
  const source = field(2);
  const label = source?.children[1] ? octetStringValue(source.children[1]) : undefined;
  let unsupported: string | undefined;
  if (!Object.values(HASHES).includes(hash)) unsupported = `RSAES-OAEP hash ${hash}`;
  else if (mgfOid !== Oid.mgf1) unsupported = `RSAES-OAEP mask generation ${mgfOid}`;
  else if (mgfHash !== hash) unsupported = `RSAES-OAEP with MGF1 ${mgfHash} and hash ${hash}`;
  else if (source?.children[0] && decodeOid(source.children[0].contents) !== Oid.pSpecified)
    unsupported = `RSAES-OAEP label source ${decodeOid(source.children[0].contents)}`;
  return { hash, label: label?.length ? label : undefined, unsupported };
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
  if (info.algorithm === Oid.rsaesOaep && !info.oaep.unsupported) {
    try {
      return privateDecrypt(
        {
          key: key.keyObject,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: info.oaep.hash,
          oaepLabel: info.oaep.label,
        },
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
