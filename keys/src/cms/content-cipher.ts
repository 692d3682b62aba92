import { createDecipheriv, type Decipher } from 'node:crypto';
import { decodeOid, Oid } from '../asn1/oids.js';
import { child, parseAsn1 } from '../asn1/tree.js';

/** Content-encryption algorithms we read: ours (AES-256), gpgsm's default (AES-128), and older ones. */
const CIPHERS: Record<string, { name: string; keyLength: number; ivLength: number }> = {
  [Oid.aes128Cbc]: { name: 'aes-128-cbc', keyLength: 16, ivLength: 16 },
  [Oid.aes192Cbc]: { name: 'aes-192-cbc', keyLength: 24, ivLength: 16 },
  [Oid.aes256Cbc]: { name: 'aes-256-cbc', keyLength: 32, ivLength: 16 },
  [Oid.desEde3Cbc]: { name: 'des-ede3-cbc', keyLength: 24, ivLength: 8 },
};

export interface ContentCipher {
  name: string;
  keyLength: number;
  iv: Buffer;
  decipher(key: Buffer): Decipher;
}

/** Interpret contentEncryptionAlgorithm (AlgorithmIdentifier with the IV as parameter). */
export function contentCipher(algorithmIdentifierDer: Buffer): ContentCipher {
  const algId = parseAsn1(algorithmIdentifierDer, 'contentEncryptionAlgorithm');
  const oid = decodeOid(child(algId, 0, 'contentEncryptionAlgorithm').contents);
  const spec = CIPHERS[oid];
  if (!spec) throw new Error(`content encryption algorithm ${oid} is not supported (AES-CBC or 3DES expected)`);
  const ivNode = child(algId, 1, 'contentEncryptionAlgorithm IV');
  const iv = ivNode.contents;
  if (iv.length !== spec.ivLength) throw new Error(`${spec.name}: IV of ${iv.length} bytes, expected ${spec.ivLength}`);
  return { ...spec, iv, decipher: (key) => createDecipheriv(spec.name, key, iv) };
}
