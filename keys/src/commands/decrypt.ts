import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { printJson } from '@deaddrop/common/output';
import { UsageError } from '@deaddrop/common/errors';
import { ByteCounter, openInput, runToOutput } from './io.js';

interface Args {
  key: string;
  passphraseFile?: string;
  input?: string;
  output?: string;
  force?: boolean;
}

export const decryptCommand = {
  command: 'decrypt [input]',
  describe: 'Decrypt CMS EnvelopedData (ours, openssl smime/cms, gpgsm), streaming',
  builder: (y) =>
    y
      .positional('input', { type: 'string', describe: 'CMS file, DER/BER (default: stdin)' })
      .option('key', {
        type: 'string',
        demandOption: true,
        describe: 'Recipient private key (PKCS#8 or PKCS#1 PEM/DER)',
      })
      .option('passphrase-file', {
        type: 'string',
        describe: 'Key passphrase from this file (else asked on the terminal)',
      })
      .option('output', { alias: 'o', type: 'string', describe: 'Output file (default: stdout)' })
      .option('force', { alias: 'f', type: 'boolean', describe: 'Replace an existing output file' })
      .epilog(
        'With -o, the plaintext goes to a temp file next to OUT, renamed to OUT only when the whole message\n' +
          'decrypted: a truncated or corrupt input, or Ctrl-C, leaves no output. An existing OUT is refused\n' +
          "without --force. On stdout, bytes already written can't be taken back: check the exit code\n" +
          "(1 = failed) before using the data. CBC has no integrity check: verify checksums (the sets'\n" +
          'sha256sums files) for tampering.',
      ),
  handler: handler<Args>(async (argv) => {
    if (argv.json && (!argv.output || argv.output === '-')) throw new UsageError('--json needs -o OUT');
    const { isEncryptedKeyFile, privateKeyFromBytes } = await import('../private-key.js');
    const { createDecryptStream } = await import('../cms/decrypt.js');
    const { readFile } = await import('node:fs/promises');
    let keyBytes: Buffer;
    try {
      keyBytes = await readFile(argv.key);
    } catch (err) {
      throw new UsageError(`${argv.key}: cannot read private key: ${(err as Error).message}`);
    }
    let passphrase: Buffer | undefined;
    if (isEncryptedKeyFile(keyBytes)) {
      const { keyPassphrase } = await import('../passphrase.js');
      passphrase = await keyPassphrase(argv.key, argv.passphraseFile);
    }
    const key = privateKeyFromBytes(keyBytes, argv.key, passphrase);
    const input = await openInput(argv.input);
    const counted = new ByteCounter(); // a stream stage only when --json reports the size
    const decrypt = createDecryptStream(key, { name: input.name });
    await runToOutput(input, argv.json ? [decrypt, counted] : [decrypt], argv.output, 0o600, argv.force);
    if (argv.json) printJson({ input: input.name, output: argv.output, plaintextBytes: counted.bytes });
  }),
} as DeaddropCommand;
