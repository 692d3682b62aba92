import { generateKeyPair, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generateRsa = promisify(generateKeyPair);

export interface GeneratedRecipient {
  /** Self-signed X.509 certificate, PEM. */
  certificatePem: string;
  privateKey: KeyObject;
  /** SHA-256 and SHA-1 fingerprints of the certificate, colon-separated hex (openssl style). */
  fingerprints: { sha256: string; sha1: string };
}

export const VALIDITY_YEARS = 30;

/**
 * A recipient key pair and self-signed certificate that openssl smime/cms and gpgsm all accept:
 * RSA (node:crypto makes the key), keyUsage keyEncipherment+dataEncipherment (gpgsm --encrypt
 * needs one of them), basicConstraints CA:FALSE, subjectKeyIdentifier, a positive random
 * serial, SHA-256 signature (node-forge builds and signs the certificate).
 */
export async function generateRecipient(opts: {
  cn: string;
  bits?: number;
  years?: number;
}): Promise<GeneratedRecipient> {
  const bits = opts.bits ?? 3072;
  // node-forge is only needed here: loaded on demand to keep it out of encrypt/decrypt runs
  const { default: forge } = await import('node-forge');
  const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  // leading 01: positive INTEGER of a fixed size whatever the random bytes are
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 60_000); // a minute of clock skew
  cert.validity.notAfter = new Date(now);
  cert.validity.notAfter.setUTCFullYear(now.getUTCFullYear() + (opts.years ?? VALIDITY_YEARS));
  const name = [{ name: 'commonName', value: opts.cn, valueTagClass: forge.asn1.Type.UTF8 as any }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', keyEncipherment: true, dataEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  const forgeKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
  cert.sign(forgeKey, forge.md.sha256.create());
  const certificatePem = forge.pki.certificateToPem(cert);
  return { certificatePem, privateKey, fingerprints: fingerprintsOf(new X509Certificate(certificatePem)) };
}

export function fingerprintsOf(cert: X509Certificate): { sha256: string; sha1: string } {
  return { sha256: cert.fingerprint256, sha1: cert.fingerprint };
}

/** The private key as PKCS#8 PEM, encrypted (PBES2, PBKDF2 + AES-256-CBC) unless passphrase is null. */
export function privateKeyPem(key: KeyObject, passphrase: string | Buffer | null): string {
  if (passphrase === null) return key.export({ type: 'pkcs8', format: 'pem' }) as string;
  return key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string;
}
