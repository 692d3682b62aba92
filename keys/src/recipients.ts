import { X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { UsageError } from '@deaddrop/common/errors';
import { child, parseAsn1, UNIVERSAL, type Asn1Node } from './asn1/tree.js';
import { describeCertificate, recipientConcerns } from './cert-info.js';
import { certificateBlocks } from './pem.js';

/** An X.509 RSA certificate to encrypt to, identified in CMS by issuer and serial number. */
export interface Recipient {
  /** Where it was loaded from (for messages). */
  source: string;
  certificate: X509Certificate;
  publicKey: KeyObject;
  /** DER of the certificate's issuer Name, byte for byte as in the certificate. */
  issuerDer: Buffer;
  /** DER of the serialNumber INTEGER (tag, length, contents) as in the certificate. */
  serialDer: Buffer;
  /** RSA modulus size in bits. */
  bits: number;
  /** Why the certificate is a doubtful recipient (expired, not for keyEncipherment...): for a warning. */
  warnings: string[];
}

export const EC_NOT_SUPPORTED =
  "EC certificates are not supported: gpgsm and openssl smime can't decrypt them; use RSA";

/**
 * Load recipient certificates (PEM, possibly several per file, or DER); each must hold an RSA key.
 * Doubtful ones are loaded with their `warnings`: callers show recipientWarnings().
 */
export async function loadRecipients(paths: string[]): Promise<Recipient[]> {
  if (paths.length === 0) throw new UsageError('no recipient certificate given');
  const out: Recipient[] = [];
  for (const path of paths) {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw new UsageError(`${path}: cannot read certificate: ${(err as Error).message}`);
    }
    for (const der of certificateBlocks(bytes, path)) out.push(recipientFromDer(der, path));
  }
  return out;
}

const MIN_RSA_BITS = 2048;

/** A Recipient from one DER certificate; `source` names it in errors. */
export function recipientFromDer(der: Buffer, source: string): Recipient {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(der);
  } catch (err) {
    throw new UsageError(`${source}: not an X.509 certificate (${(err as Error).message})`);
  }
  const publicKey = certificate.publicKey;
  const type = publicKey.asymmetricKeyType;
  if (type === 'ec') throw new UsageError(`${source}: ${EC_NOT_SUPPORTED}`);
  if (type !== 'rsa') throw new UsageError(`${source}: certificate key type ${type} is not supported; use RSA`);
  const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  // every backup is encrypted to it for years: a key that can be factored opens all of them
  if (bits < MIN_RSA_BITS)
    throw new UsageError(`${source}: RSA-${bits} is too weak for a recipient (at least ${MIN_RSA_BITS} bits)`);
  const { issuer, serial } = issuerAndSerial(der, source);
  return {
    source,
    certificate,
    publicKey,
    issuerDer: issuer.raw,
    serialDer: serial.raw,
    bits,
    warnings: recipientConcerns(describeCertificate(der), new Date()),
  };
}

/** One line per doubtful recipient reason: the file, why, and the certificate's subject. */
export function recipientWarnings(recipients: Recipient[]): string[] {
  return recipients.flatMap((r) =>
    r.warnings.map(
      (w) => `${r.source}: ${w} (${r.certificate.subject.replace(/\n/g, ', ')}); encrypting to it all the same`,
    ),
  );
}

/** The issuer Name and serialNumber elements of a certificate's TBSCertificate (RFC 5280 4.1). */
function issuerAndSerial(der: Buffer, source: string): { issuer: Asn1Node; serial: Asn1Node } {
  const cert = parseAsn1(der, source);
  const tbs = child(cert, 0, `${source}: TBSCertificate`);
  // version is an optional EXPLICIT [0] in front of the serial
  const first = child(tbs, 0, `${source}: TBSCertificate`);
  const at = first.tagClass === UNIVERSAL ? 0 : 1;
  return {
    serial: child(tbs, at, `${source}: serialNumber`),
    issuer: child(tbs, at + 2, `${source}: issuer`),
  };
}
