import { chmod, mkdir, open, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { exists, syncDir } from '@deaddrop/common/fs';
import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { printResult } from '@deaddrop/common/output';
import { UsageError } from '@deaddrop/common/errors';

interface Args {
  cn: string;
  out: string;
  bits: number;
  passphraseFile?: string;
  insecureNoPassphrase?: boolean;
}

export const keysGenerateCommand = {
  command: 'generate',
  describe: 'Make the offline recipient key pair: DIR/recipient.pem (certificate) and DIR/recipient.key',
  builder: (y) =>
    y
      .option('cn', { type: 'string', demandOption: true, describe: 'Common name of the certificate' })
      .option('out', { type: 'string', demandOption: true, describe: 'Directory for recipient.pem and recipient.key' })
      .option('bits', { type: 'number', choices: [3072, 4096], default: 3072, describe: 'RSA key size' })
      .option('passphrase-file', {
        type: 'string',
        describe: 'Read the key passphrase from this file (else asked twice)',
      })
      .option('insecure-no-passphrase', { type: 'boolean', describe: 'Store the private key unencrypted' })
      .epilog(
        'recipient.key is encrypted PKCS#8 (mode 0600); keep it offline. recipient.pem goes to every client.\n' +
          'Existing files are never overwritten. openssl smime/cms and gpgsm accept both files.',
      ),
  handler: handler<Args>(async (argv) => {
    if (argv.passphraseFile && argv.insecureNoPassphrase)
      throw new UsageError('--passphrase-file and --insecure-no-passphrase exclude each other');
    if (argv.cn.trim() === '') throw new UsageError('--cn: empty common name');
    const certPath = join(argv.out, 'recipient.pem');
    const keyPath = join(argv.out, 'recipient.key');
    for (const path of [keyPath, certPath])
      if (await exists(path)) throw new UsageError(`${path} already exists; refusing to overwrite it`);
    // before the passphrase and the key: --out names the directory to make
    const outStat = await stat(argv.out).catch(() => undefined);
    if (outStat && !outStat.isDirectory()) throw new UsageError(`--out ${argv.out}: exists and is not a directory`);

    const { newPassphrase } = await import('../passphrase.js');
    const passphrase = argv.insecureNoPassphrase ? null : await newPassphrase(argv.passphraseFile);
    const { generateRecipient, privateKeyPem } = await import('../generate.js');
    const generated = await generateRecipient({ cn: argv.cn, bits: argv.bits });

    await mkdir(argv.out, { recursive: true, mode: 0o700 });
    await writeNew(keyPath, privateKeyPem(generated.privateKey, passphrase), 0o600);
    try {
      await writeNew(certPath, generated.certificatePem, 0o644);
    } catch (err) {
      await unlink(keyPath).catch(() => {});
      throw err;
    }
    // the names too (and the directory's, when made): a crash now must not lose the only
    // private key to a certificate that is about to go to every client
    await syncDir(argv.out);
    await syncDir(dirname(resolve(argv.out)));
    const result = {
      certificate: certPath,
      key: keyPath,
      keyEncrypted: passphrase !== null,
      bits: argv.bits,
      cn: argv.cn,
      fingerprints: generated.fingerprints,
    };
    printResult(argv.json, result, (r) => [
      `wrote ${r.certificate} (certificate, RSA-${r.bits})`,
      `wrote ${r.key} (private key, ${r.keyEncrypted ? 'encrypted PKCS#8' : 'UNENCRYPTED PKCS#8'}, mode 0600)`,
      `SHA-256 fingerprint: ${r.fingerprints.sha256}`,
      `SHA-1 fingerprint:   ${r.fingerprints.sha1}`,
    ]);
  }),
} as DeaddropCommand;

/** Create a file that must not exist yet (O_EXCL), with exactly `mode`. */
async function writeNew(path: string, text: string, mode: number): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new UsageError(`${path} already exists; refusing to overwrite it`);
    throw new UsageError(`${path}: cannot create: ${(err as Error).message}`);
  }
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(path, mode); // the umask may have taken bits away from the certificate
}
