import { openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import tty from 'node:tty';
import { UsageError } from '@deaddrop/common/errors';

/**
 * A passphrase from a file: its first line, as `openssl -passin file:` reads it (a trailing
 * newline is not part of it). Empty is refused, and so is a line ending in a carriage return:
 * openssl would take the CR as part of the passphrase, so a key made with such a file could
 * not be opened by the stock tools of docs/DISASTER-RECOVERY.md.
 */
export async function readPassphraseFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${path}: cannot read passphrase file: ${(err as Error).message}`);
  }
  const passphrase = text.split('\n')[0]!;
  if (passphrase.endsWith('\r'))
    throw new UsageError(
      `${path}: the passphrase line ends with a carriage return (CRLF line ends): openssl would read ` +
        'the CR as part of the passphrase; save the file with LF line ends',
    );
  if (passphrase === '') throw new UsageError(`${path}: the passphrase file is empty; an empty passphrase is refused`);
  return passphrase;
}

/**
 * Ask for a passphrase on the controlling terminal without echo. The terminal is opened
 * directly, so stdin may carry the data being decrypted.
 */
export async function promptPassphrase(question: string): Promise<string> {
  let inFd: number;
  let outFd: number;
  try {
    inFd = openSync('/dev/tty', 'r');
    outFd = openSync('/dev/tty', 'w');
  } catch {
    throw new UsageError('no terminal to ask for a passphrase: give --passphrase-file FILE');
  }
  const input = new tty.ReadStream(inFd);
  const output = new tty.WriteStream(outFd);
  // raw (no echo) before the prompt shows: an answer typed right away must not be echoed
  input.setRawMode(true);
  output.write(question);
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      input.on('data', (data: Buffer) => {
        for (const ch of data.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return resolve(typed);
          if (ch === '\u0003' || ch === '\u0004') return reject(new UsageError('passphrase entry cancelled'));
          if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
          else typed += ch;
        }
      });
    });
  } finally {
    input.setRawMode(false);
    output.write('\n');
    input.destroy();
    output.destroy();
  }
}

/** The passphrase to unlock an encrypted key: from --passphrase-file, else asked on the terminal. */
export async function keyPassphrase(keyPath: string, passphraseFile?: string): Promise<string> {
  if (passphraseFile) return readPassphraseFile(passphraseFile);
  return promptPassphrase(`Passphrase for ${keyPath}: `);
}

/** A new passphrase: from a file, or asked twice on the terminal; empty is refused. */
export async function newPassphrase(passphraseFile?: string): Promise<string> {
  if (passphraseFile) return readPassphraseFile(passphraseFile);
  const first = await promptPassphrase('New passphrase for the recipient key: ');
  if (first === '')
    throw new UsageError('an empty passphrase is refused (--insecure-no-passphrase stores the key unencrypted)');
  const second = await promptPassphrase('Repeat the passphrase: ');
  if (first !== second) throw new UsageError('the two passphrases differ');
  return first;
}
