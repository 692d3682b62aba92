import { X509Certificate } from 'node:crypto';
import { decodeOid } from './asn1/oids.js';
import { CONTEXT, parseAsn1, UNIVERSAL, type Asn1Node } from './asn1/tree.js';
import { fingerprintsOf } from './generate.js';

export interface CertificateInfo {
  kind: 'certificate';
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  keyType: string;
  bits: number | null;
  keyUsage: string[] | null;
  ca: boolean | null;
  fingerprints: { sha256: string; sha1: string };
}

const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

/** What `keys show` prints about a certificate. */
export function describeCertificate(der: Buffer): CertificateInfo {
  const cert = new X509Certificate(der);
  const key = cert.publicKey;
  const extensions = extensionsOf(der);
  const keyUsage = extensions.get('2.5.29.15');
  const basic = extensions.get('2.5.29.19');
  return {
    kind: 'certificate',
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    serial: cert.serialNumber,
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    keyType: key.asymmetricKeyType ?? 'unknown',
    bits: key.asymmetricKeyDetails?.modulusLength ?? null,
    keyUsage: keyUsage ? keyUsageNames(parseAsn1(keyUsage, 'keyUsage').contents) : null,
    ca: basic ? basicConstraintsCa(parseAsn1(basic, 'basicConstraints')) : null,
    fingerprints: fingerprintsOf(cert),
  };
}

/** extnID -> extnValue contents (the DER inside the OCTET STRING). */
function extensionsOf(der: Buffer): Map<string, Buffer> {
  const tbs = parseAsn1(der, 'certificate').children[0]!;
  const tagged = tbs.children.find((c) => c.tagClass === CONTEXT && c.tagNumber === 3);
  const out = new Map<string, Buffer>();
  for (const ext of tagged?.children[0]?.children ?? []) {
    const oid = decodeOid(ext.children[0]!.contents);
    out.set(oid, ext.children[ext.children.length - 1]!.contents);
  }
  return out;
}

/** BIT STRING contents: unused-bits count, then named bits from the most significant. */
function keyUsageNames(bits: Buffer): string[] {
  const names: string[] = [];
  KEY_USAGE_BITS.forEach((name, i) => {
    const byte = bits[1 + (i >> 3)];
    if (byte !== undefined && byte & (0x80 >> (i & 7))) names.push(name);
  });
  return names;
}

function basicConstraintsCa(seq: Asn1Node): boolean {
  const first = seq.children[0];
  return Boolean(first && first.tagClass === UNIVERSAL && first.tagNumber === 1 && first.contents[0]);
}

export type Validity = 'current' | 'expired' | 'not-yet-valid';

/** Whether `now` lies in the certificate's validity period. */
export function validityAt(info: CertificateInfo, now: Date): Validity {
  if (now.getTime() > Date.parse(info.notAfter)) return 'expired';
  if (now.getTime() < Date.parse(info.notBefore)) return 'not-yet-valid';
  return 'current';
}

/**
 * Why a certificate is a doubtful recipient, though encrypting to it works (openssl and gpgsm
 * decrypt to an expired one): a stale or mistaken choice of certificate, worth a warning.
 */
export function recipientConcerns(info: CertificateInfo, now: Date): string[] {
  const concerns: string[] = [];
  const validity = validityAt(info, now);
  if (validity === 'expired') concerns.push(`expired on ${info.notAfter}`);
  if (validity === 'not-yet-valid') concerns.push(`not valid before ${info.notBefore}`);
  // no keyUsage extension allows every use
  if (info.keyUsage && !info.keyUsage.includes('keyEncipherment')) concerns.push('keyUsage lacks keyEncipherment');
  if (info.ca) concerns.push('a CA certificate');
  return concerns;
}
