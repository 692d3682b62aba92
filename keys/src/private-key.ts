import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DeaddropError, UsageError } from '@deaddrop/common/errors';

/** A recipient's RSA private key, ready to unwrap content-encryption keys. */
export interface PrivateKey {
  /** Where it was loaded from (for messages). */
  source: string;
  keyObject: KeyObject;
  /** RSA modulus size in bits. */
  bits: number;
  /** Whether the file was passphrase-protected. */
  encrypted: boolean;
}

/** True when the key file needs a passphrase (encrypted PKCS#8, or legacy encrypted PKCS#1 PEM). */
export function isEncryptedKeyFile(bytes: Buffer): boolean {
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) return true;
  if (isLegacyEncryptedPem(text)) return true;
  return !text.includes('-----BEGIN') && isEncryptedPkcs8Der(bytes);
}

/** A traditional (PKCS#1) PEM key encrypted with a "Proc-Type: 4,ENCRYPTED" header. */
export function isLegacyEncryptedPem(text: string): boolean {
  return /Proc-Type:\s*4,\s*ENCRYPTED/.test(text);
}

/**
 * DER EncryptedPrivateKeyInfo: SEQUENCE { SEQUENCE { OID algorithm, ... }, OCTET STRING }. A
 * certificate also starts SEQUENCE { SEQUENCE, but its TBSCertificate begins with [0] version or
 * the INTEGER serial, never an OID.
 */
export function isEncryptedPkcs8Der(bytes: Buffer): boolean {
  if (bytes[0] !== 0x30) return false;
  const inner = 1 + lengthOctets(bytes, 1);
  return bytes[inner] === 0x30 && bytes[inner + 1 + lengthOctets(bytes, inner + 1)] === 0x06;
}

/** How many octets the DER length at `at` takes (short form: 1; long form: 1 + count). */
function lengthOctets(bytes: Buffer, at: number): number {
  const first = bytes[at] ?? 0;
  return first & 0x80 ? (first & 0x7f) + 1 : 1;
}

/**
 * Load an RSA private key: encrypted PKCS#8 PEM (what `deaddrop keys generate` writes), or an
 * unencrypted PKCS#8/PKCS#1 PEM or DER key.
 */
export async function loadPrivateKey(path: string, passphrase?: string | Buffer): Promise<PrivateKey> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new UsageError(`${path}: cannot read private key: ${(err as Error).message}`);
  }
  return privateKeyFromBytes(bytes, path, passphrase);
}

export function privateKeyFromBytes(bytes: Buffer, source: string, passphrase?: string | Buffer): PrivateKey {
  const encrypted = isEncryptedKeyFile(bytes);
  if (encrypted && passphrase === undefined)
    throw new UsageError(`${source}: the private key is encrypted; give its passphrase (--passphrase-file FILE)`);
  const pem = bytes.toString('latin1').includes('-----BEGIN');
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(
      pem
        ? { key: bytes, format: 'pem', passphrase: encrypted ? passphrase : undefined }
        : { key: bytes, format: 'der', type: encrypted ? 'pkcs8' : derType(bytes), passphrase },
    );
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (!encrypted) throw new UsageError(`${source}: not a private key (${e.message})`);
    // A wrong passphrase usually fails the padding check ("bad decrypt"); about once in 256 the
    // padding of the garbage it decrypts to looks valid and the DER decoder fails instead.
    const decryptError = /bad decrypt|decrypt|passphrase/i.test(`${e.message} ${e.code ?? ''}`);
    throw new DeaddropError(
      `${source}: wrong passphrase for the private key${decryptError ? '' : ` (or a damaged file: ${e.message})`}`,
      2,
    );
  }
  if (keyObject.asymmetricKeyType !== 'rsa')
    throw new UsageError(`${source}: key type ${keyObject.asymmetricKeyType} is not supported; deaddrop keys are RSA`);
  return { source, keyObject, bits: keyObject.asymmetricKeyDetails?.modulusLength ?? 0, encrypted };
}

/** PKCS#8 PrivateKeyInfo has an AlgorithmIdentifier SEQUENCE after the version; PKCS#1 has INTEGERs. */
function derType(bytes: Buffer): 'pkcs8' | 'pkcs1' {
  const afterVersion = 1 + lengthOctets(bytes, 1) + 3; // version is INTEGER 02 01 0x
  return bytes[afterVersion] === 0x30 ? 'pkcs8' : 'pkcs1';
}
