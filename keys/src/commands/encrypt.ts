import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { printJson } from '@deaddrop/common/output';
import { UsageError } from '@deaddrop/common/errors';
import { ByteCounter, openInput, runToOutput } from './io.js';

interface Args {
  to: string[];
  input?: string;
  output?: string;
  force?: boolean;
}

export const encryptCommand = {
  command: 'encrypt [input]',
  describe: 'Encrypt to recipient certificates as streaming CMS EnvelopedData (openssl/gpgsm compatible)',
  builder: (y) =>
    y
      .positional('input', { type: 'string', describe: 'File to encrypt (default: stdin)' })
      .option('to', {
        type: 'string',
        array: true,
        nargs: 1,
        demandOption: true,
        describe: 'Recipient certificate (repeatable)',
      })
      .option('output', { alias: 'o', type: 'string', describe: 'Output file (default: stdout)' })
      .option('force', { alias: 'f', type: 'boolean', describe: 'Replace an existing output file' })
      .epilog(
        'AES-256-CBC, RSAES-PKCS1-v1_5 key transport, recipients by issuer+serial, BER indefinite lengths.\n' +
          'Decrypt with: openssl smime -decrypt -binary -inform DER -inkey KEY -in FILE, or gpgsm --decrypt.\n' +
          'With -o the file appears only when complete; an existing one is refused without --force. --json\n' +
          'needs -o (stdout carries the data otherwise).',
      ),
  handler: handler<Args>(async (argv) => {
    if (argv.json && (!argv.output || argv.output === '-')) throw new UsageError('--json needs -o OUT');
    const { loadRecipients, recipientWarnings } = await import('../recipients.js');
    const { createEncryptStream } = await import('../cms/encrypt.js');
    const recipients = await loadRecipients(argv.to);
    for (const w of recipientWarnings(recipients)) process.stderr.write(`warning: ${w}\n`);
    // the cipher copies every chunk, so a file can be fed from one reused buffer; a counting
    // stage in front would hold on to chunks, so --json reads a stream
    const input = await openInput(argv.input, !argv.json);
    const counted = new ByteCounter(); // a stream stage only when --json reports the size
    const stages = argv.json ? [counted, createEncryptStream(recipients)] : [createEncryptStream(recipients)];
    await runToOutput(input, stages, argv.output, 0o644, argv.force);
    if (argv.json)
      printJson({
        input: input.name,
        output: argv.output,
        plaintextBytes: counted.bytes,
        recipients: recipients.map((r) => ({ certificate: r.source, subject: r.certificate.subject })),
      });
  }),
} as DeaddropCommand;
