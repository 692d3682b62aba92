/**
 * The admin's private key for restore: loaded once, only when an encrypted file is met (legacy
 * plain sets restore without one). Same rules as `deaddrop decrypt`: an encrypted key needs
 * --passphrase-file (or the terminal).
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '@deaddrop/common/errors';
import type { PrivateKey } from '@deaddrop/keys/private-key';

export type KeySource = () => Promise<PrivateKey>;

export function keyLoader(keyPath: string | undefined, passphraseFile: string | undefined): KeySource {
  let loaded: Promise<PrivateKey> | undefined;
  return () => {
    if (!keyPath) return Promise.reject(new UsageError('the backup is encrypted: give the private key (--key KEY)'));
    loaded ??= (async () => {
      const { isEncryptedKeyFile, privateKeyFromBytes } = await import('@deaddrop/keys/private-key');
      let bytes: Buffer;
      try {
        bytes = await readFile(keyPath);
      } catch (err) {
        throw new UsageError(`${keyPath}: cannot read private key: ${(err as Error).message}`);
      }
      let passphrase: Buffer | undefined;
      if (isEncryptedKeyFile(bytes)) {
        const { keyPassphrase } = await import('@deaddrop/keys/passphrase');
        passphrase = await keyPassphrase(keyPath, passphraseFile);
      }
      return privateKeyFromBytes(bytes, keyPath, passphrase);
    })();
    return loaded;
  };
}
