import { readFile } from 'node:fs/promises';
import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { printResult } from '@deaddrop/common/output';
import { UsageError } from '@deaddrop/common/errors';
import type { CertificateInfo, Validity } from '../cert-info.js';
import { isEncryptedPkcs8Der, isLegacyEncryptedPem } from '../private-key.js';

interface Args {
  file: string;
  passphraseFile?: string;
}

interface KeyInfo {
  kind: 'private-key';
  file: string;
  keyType: string | null;
  bits: number | null;
  encrypted: boolean;
}

export const keysShowCommand = {
  command: 'show <file>',
  describe: 'Describe a recipient certificate or private key',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'Certificate (PEM/DER) or private key' })
      .option('passphrase-file', { type: 'string', describe: 'Unlock an encrypted key to show its size' }),
  handler: handler<Args>(async (argv) => {
    let bytes: Buffer;
    try {
      bytes = await readFile(argv.file);
    } catch (err) {
      throw new UsageError(`${argv.file}: cannot read: ${(err as Error).message}`);
    }
    const text = bytes.toString('latin1');
    if (/-----BEGIN (X509 )?CERTIFICATE-----/.test(text) || (bytes[0] === 0x30 && !isKeyDer(bytes))) {
      const { certificateBlocks } = await import('../pem.js');
      const { describeCertificate, validityAt } = await import('../cert-info.js');
      const infos = certificateBlocks(bytes, argv.file).map((der) => {
        try {
          const info = describeCertificate(der);
          return { file: argv.file, ...info, validity: validityAt(info, new Date()) };
        } catch (err) {
          throw new UsageError(`${argv.file}: not an X.509 certificate (${(err as Error).message})`);
        }
      });
      printResult(argv.json, infos.length === 1 ? infos[0] : infos, () => infos.flatMap(certificateLines));
      return;
    }
    if (!/PRIVATE KEY-----/.test(text) && bytes[0] !== 0x30)
      throw new UsageError(`${argv.file}: neither a certificate nor a private key`);
    const { isEncryptedKeyFile, privateKeyFromBytes } = await import('../private-key.js');
    const encrypted = isEncryptedKeyFile(bytes);
    const info: KeyInfo = { kind: 'private-key', file: argv.file, keyType: null, bits: null, encrypted };
    if (!encrypted || argv.passphraseFile) {
      const { readPassphraseFile } = await import('../passphrase.js');
      const passphrase = argv.passphraseFile ? await readPassphraseFile(argv.passphraseFile) : undefined;
      const key = privateKeyFromBytes(bytes, argv.file, passphrase);
      info.keyType = 'rsa';
      info.bits = key.bits;
    }
    const protection = isLegacyEncryptedPem(text)
      ? 'yes (passphrase-protected legacy PKCS#1 PEM, "Proc-Type: 4,ENCRYPTED")'
      : 'yes (passphrase-protected PKCS#8)';
    printResult(argv.json, info, (i) => [
      `${i.file}: private key`,
      `  type:      ${i.keyType ? `${i.keyType.toUpperCase()} ${i.bits} bits` : 'unknown until unlocked (--passphrase-file)'}`,
      `  encrypted: ${i.encrypted ? protection : 'NO (anyone who reads the file can decrypt)'}`,
    ]);
  }),
} as DeaddropCommand;

function isKeyDer(bytes: Buffer): boolean {
  // a certificate is SEQUENCE { SEQUENCE tbs, ... }; PKCS#1/PKCS#8 keys start with INTEGER
  // version, an encrypted PKCS#8 key with SEQUENCE { OID ... }
  const lenBytes = bytes[1]! & 0x80 ? (bytes[1]! & 0x7f) + 1 : 1;
  return bytes[1 + lenBytes] === 0x02 || isEncryptedPkcs8Der(bytes);
}

const VALIDITY_MARK: Record<Validity, string> = {
  current: '',
  expired: ' (EXPIRED)',
  'not-yet-valid': ' (NOT YET VALID)',
};

function certificateLines(i: CertificateInfo & { file: string; validity: Validity }): string[] {
  return [
    `${i.file}: certificate`,
    `  subject:    ${i.subject}`,
    `  issuer:     ${i.issuer}`,
    `  serial:     ${i.serial}`,
    `  valid:      ${i.notBefore} .. ${i.notAfter}${VALIDITY_MARK[i.validity]}`,
    `  key:        ${i.keyType.toUpperCase()}${i.bits ? ` ${i.bits} bits` : ''}`,
    `  keyUsage:   ${i.keyUsage ? i.keyUsage.join(', ') : '(none)'}`,
    `  CA:         ${i.ca === null ? '(no basicConstraints)' : i.ca ? 'TRUE' : 'FALSE'}`,
    `  SHA-256:    ${i.fingerprints.sha256}`,
    `  SHA-1:      ${i.fingerprints.sha1}`,
  ];
}
