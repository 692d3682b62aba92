import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream, createEncryptStream, loadPrivateKey, loadRecipients } from '@deaddrop/keys';
import { runCommand } from '@deaddrop/test';

/** Write `size` random bytes to `path` in 1 MiB pieces; returns their SHA-256. */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  async function* pieces() {
    for (let left = size; left > 0; left -= 1 << 20) {
      const piece = randomBytes(Math.min(left, 1 << 20));
      hash.update(piece);
      yield piece;
    }
  }
  await pipeline(Readable.from(pieces()), createWriteStream(path));
  return hash.digest('hex');
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Encrypt a file with the library to `certPaths`. */
export async function encryptFile(inPath: string, outPath: string, certPaths: string[]): Promise<void> {
  await pipeline(
    createReadStream(inPath),
    createEncryptStream(await loadRecipients(certPaths)),
    createWriteStream(outPath),
  );
}

/** Decrypt a file with the library. */
export async function decryptWithLibrary(inPath: string, outPath: string, keyPath: string, passphrase?: string) {
  await pipeline(
    createReadStream(inPath),
    createDecryptStream(await loadPrivateKey(keyPath, passphrase)),
    createWriteStream(outPath),
  );
}

/** Run a command that must succeed; its stderr in the assertion message otherwise. */
export async function mustRun(cmd: string, args: string[]): Promise<void> {
  const r = await runCommand(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
}

export function bytesOf(path: string): Buffer {
  return readFileSync(path);
}

/**
 * Write a self-signed certificate for the key in `keyPemPath` with the given validity and
 * extensions (node-forge: openssl 3.0 cannot backdate one), e.g. an expired or a CA certificate.
 */
export async function writeCertificate(
  path: string,
  keyPemPath: string,
  opts: { notBefore: Date; notAfter: Date; extensions?: object[] },
): Promise<void> {
  const { default: forge } = await import('node-forge');
  const key = forge.pki.privateKeyFromPem(readFileSync(keyPemPath, 'utf8'));
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  cert.validity.notBefore = opts.notBefore;
  cert.validity.notAfter = opts.notAfter;
  const name = [{ name: 'commonName', value: basename(path) }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions(opts.extensions ?? [{ name: 'keyUsage', keyEncipherment: true }]);
  cert.sign(key, forge.md.sha256.create());
  writeFileSync(path, forge.pki.certificateToPem(cert));
}
