import { createReadStream } from 'node:fs';
import { writeThroughTemp } from '@deaddrop/common/output-file';
import { createDecryptStream } from './cms/decrypt.js';
import type { PrivateKey } from './private-key.js';

/** Decrypt the CMS file `inPath` into `outPath` (temp file + rename: no partial output on failure). */
export async function decryptFile(inPath: string, outPath: string, key: PrivateKey): Promise<void> {
  await writeThroughTemp(createReadStream(inPath), [createDecryptStream(key, { name: inPath })], outPath);
}
