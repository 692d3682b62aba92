import { openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import tty from 'node:tty';
import { UsageError } from '@deaddrop/common/errors';

/** openssl reads a passphrase line into a 1024-byte buffer (PEM_BUFSIZE): 1023 bytes at most. */
export const MAX_PASSPHRASE_BYTES = 1023;

/**
 * A passphrase from a file: its first line, as bytes, as `openssl -passin file:` reads it (a
 * trailing newline is not part of it). Bytes, not text: a file that is not UTF-8 (`openssl rand
 * 32`) would otherwise lose its invalid bytes to U+FFFD, and the key would be encrypted under
 * other bytes than openssl reads from the file. Refused, because openssl would read other
 * bytes or the passphrase is no secret: a line ending in a carriage return (openssl keeps the
 * CR), a NUL byte (openssl stops there), more than 1023 bytes (openssl cuts it), empty.
 */
export async function readPassphraseFile(path: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new UsageError(`${path}: cannot read passphrase file: ${(err as Error).message}`);
  }
  const newline = bytes.indexOf(0x0a);
  const passphrase = newline === -1 ? bytes : bytes.subarray(0, newline);
  if (passphrase.at(-1) === 0x0d)
    throw new UsageError(
      `${path}: the passphrase line ends with a carriage return (CRLF line ends): openssl would read ` +
        'the CR as part of the passphrase; save the file with LF line ends',
    );
  if (passphrase.includes(0))
    throw new UsageError(`${path}: the passphrase line holds a NUL byte: openssl would read only the bytes before it`);
  if (passphrase.length > MAX_PASSPHRASE_BYTES)
    throw new UsageError(
      `${path}: the passphrase line is ${passphrase.length} bytes: openssl reads at most ${MAX_PASSPHRASE_BYTES} bytes`,
    );
  if (passphrase.length === 0)
    throw new UsageError(`${path}: the passphrase file is empty; an empty passphrase is refused`);
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
      const line = new TypedLine();
      const decoder = new StringDecoder('utf8'); // a character may come in two reads
      input.on('data', (data: Buffer) => {
        for (const ch of decoder.write(data)) {
          const done = line.feed(ch);
          if (done === 'enter') return resolve(line.text());
          if (done === 'cancel') return reject(new UsageError('passphrase entry cancelled'));
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

/**
 * A line typed on a terminal in raw mode, edited as in the terminal's canonical mode that
 * openssl's prompt reads: Backspace deletes a character, Ctrl-U the line, Ctrl-W a word.
 * Escape sequences (arrow and function keys, Alt+key) and other control characters are
 * dropped: typed blind, they are never meant as part of a passphrase.
 */
class TypedLine {
  private chars: string[] = [];
  /** Inside an escape sequence: after ESC, or after its "[" / "O" until the final character. */
  private escape: 'none' | 'esc' | 'sequence' = 'none';

  /** One character in; 'enter' or 'cancel' when that ends the entry. */
  feed(ch: string): 'enter' | 'cancel' | undefined {
    if (this.escape === 'esc') {
      this.escape = ch === '[' || ch === 'O' ? 'sequence' : 'none';
      return undefined;
    }
    if (this.escape === 'sequence') {
      if (ch >= '\u0040' && ch <= '\u007e') this.escape = 'none'; // ECMA-48 final byte
      return undefined;
    }
    switch (ch) {
      case '\r':
      case '\n':
        return 'enter';
      case '\u0003': // Ctrl-C
      case '\u0004': // Ctrl-D
        return 'cancel';
      case '\u007f':
      case '\b':
        this.chars.pop();
        return undefined;
      case '\u0015': // Ctrl-U
        this.chars = [];
        return undefined;
      case '\u0017': // Ctrl-W: the blanks before the cursor, then the word
        while (this.chars.length > 0 && /\s/.test(this.chars.at(-1)!)) this.chars.pop();
        while (this.chars.length > 0 && !/\s/.test(this.chars.at(-1)!)) this.chars.pop();
        return undefined;
      case '\u001b':
        this.escape = 'esc';
        return undefined;
    }
    if (!/\p{Cc}/u.test(ch)) this.chars.push(ch); // C0, DEL and C1 controls are dropped
    return undefined;
  }

  text(): string {
    return this.chars.join('');
  }
}

/** The passphrase to unlock an encrypted key: from --passphrase-file, else asked on the terminal. */
export async function keyPassphrase(keyPath: string, passphraseFile?: string): Promise<Buffer> {
  if (passphraseFile) return readPassphraseFile(passphraseFile);
  // a terminal sends what is typed as UTF-8, as openssl's prompt reads it
  return Buffer.from(await promptPassphrase(`Passphrase for ${keyPath}: `), 'utf8');
}

/** A new passphrase: from a file, or asked twice on the terminal; empty is refused. */
export async function newPassphrase(passphraseFile?: string): Promise<Buffer> {
  if (passphraseFile) return readPassphraseFile(passphraseFile);
  const first = await promptPassphrase('New passphrase for the recipient key: ');
  if (first === '')
    throw new UsageError('an empty passphrase is refused (--insecure-no-passphrase stores the key unencrypted)');
  const second = await promptPassphrase('Repeat the passphrase: ');
  if (first !== second) throw new UsageError('the two passphrases differ');
  const bytes = Buffer.from(first, 'utf8');
  if (bytes.length > MAX_PASSPHRASE_BYTES)
    throw new UsageError(
      `the passphrase is ${bytes.length} bytes: openssl reads at most ${MAX_PASSPHRASE_BYTES} bytes`,
    );
  return bytes;
}
