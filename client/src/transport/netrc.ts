/**
 * Credentials from a netrc file, read the way curl's --netrc-file reads it: whitespace-separated
 * tokens that may span lines, `machine NAME` / `default` start an entry, `login` and `password`
 * belong to the entry before them, `macdef` skips to the next blank line, the first entry
 * that is this machine or `default` wins (`default` belongs last). Quoted tokens ("a b", with \" \\ \n \t \r escapes) as in
 * curl >= 7.84. The file must be 0600 or stricter; passwords never appear in messages.
 */
import { readFile } from 'node:fs/promises';
import { assertPrivateFile } from '@deaddrop/common/fs';
import { ConfigError, UsageError } from '@deaddrop/common/errors';

export interface NetrcEntry {
  /** undefined for the `default` entry. */
  machine: string | undefined;
  login?: string;
  password?: string;
}

export interface Credentials {
  login: string;
  password: string;
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t' };

/** Split into tokens; `macdef` bodies (up to an empty line) are dropped. */
function* tokens(text: string): Generator<string> {
  let i = 0;
  const n = text.length;
  const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
  while (i < n) {
    while (i < n && isSpace(text[i]!)) i++;
    if (i >= n) return;
    let tok = '';
    if (text[i] === '"') {
      i++;
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < n) {
          const e = text[i + 1]!;
          tok += ESCAPES[e] ?? e;
          i += 2;
        } else tok += text[i++];
      }
      i++; // closing quote
    } else {
      while (i < n && !isSpace(text[i]!)) tok += text[i++];
    }
    if (tok === 'macdef') {
      // A macro definition runs to the first empty line.
      const end = text.slice(i).search(/\n[ \t]*\r?\n/);
      i = end < 0 ? n : i + end + 1;
      continue;
    }
    yield tok;
  }
}

export function parseNetrc(text: string): NetrcEntry[] {
  const entries: NetrcEntry[] = [];
  let current: NetrcEntry | undefined;
  const it = tokens(text);
  const next = () => {
    const r = it.next();
    return r.done ? undefined : r.value;
  };
  for (let tok = next(); tok !== undefined; tok = next()) {
    switch (tok) {
      case 'machine':
        current = { machine: next() ?? '' };
        entries.push(current);
        break;
      case 'default':
        current = { machine: undefined };
        entries.push(current);
        break;
      case 'login':
      case 'password':
      case 'account': {
        const value = next();
        if (current && value !== undefined && tok !== 'account') current[tok] = value;
        break;
      }
      default:
        // Unknown tokens outside any key are ignored, as curl does.
        break;
    }
  }
  return entries;
}

/** curl's choice: the first entry, in file order, that is `default` or this host's `machine` (any case). */
export function lookupNetrc(entries: NetrcEntry[], host: string): NetrcEntry | undefined {
  const h = host.toLowerCase();
  return entries.find((e) => e.machine === undefined || e.machine.toLowerCase() === h);
}

/** A parsed netrc file that answers per URL host. */
export class Netrc {
  private constructor(
    readonly file: string,
    private readonly entries: NetrcEntry[],
  ) {}

  /** Read and check the file: missing, unreadable or group/world-accessible → exit 2 naming it. */
  static async load(file: string): Promise<Netrc> {
    try {
      await assertPrivateFile(file, 'netrc file');
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new ConfigError(file, undefined, `cannot read the netrc file (${(err as NodeJS.ErrnoException).code})`);
    }
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError(file, undefined, `cannot read the netrc file (${(err as NodeJS.ErrnoException).code})`);
    }
    return new Netrc(file, parseNetrc(text));
  }

  /** Login and password for a host; a missing entry is a configuration error (no secret in it). */
  credentialsFor(host: string): Credentials {
    const e = lookupNetrc(this.entries, host);
    if (!e || e.login === undefined || e.password === undefined)
      throw new ConfigError(this.file, undefined, `no login and password for machine ${host}`);
    return { login: e.login, password: e.password };
  }
}
