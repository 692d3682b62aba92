import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import apacheMd5 from 'apache-md5';
import { ConfigError } from '@deaddrop/common/errors';
import { PasswordChecks } from './password-checks.js';

/**
 * Parse an Apache htpasswd file: `user:hash` per line; blank lines and '#' comments skipped.
 * A user on several lines has the first one's hash, as in Apache and nginx.
 */
export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i <= 0 || users.has(line.slice(0, i))) continue;
    users.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return users;
}

/** The htpasswd scheme of a hash, or undefined when we refuse it (crypt(3), plain text). */
export function hashScheme(hash: string): 'bcrypt' | 'apr1' | 'sha1' | undefined {
  if (/^\$2[aby]\$\d\d\$/.test(hash)) return 'bcrypt';
  if (hash.startsWith('$apr1$')) return 'apr1';
  if (hash.startsWith('{SHA}')) return 'sha1';
  return undefined;
}

/** Check a password against one htpasswd hash (bcrypt, apr1-MD5 or {SHA}). */
export async function verifyHash(password: string, hash: string): Promise<boolean> {
  switch (hashScheme(hash)) {
    case 'bcrypt':
      return bcrypt.compare(password, hash);
    case 'apr1':
      return constantTimeEqual(apacheMd5(password, hash), hash);
    case 'sha1':
      return constantTimeEqual('{SHA}' + createHash('sha1').update(password).digest('base64'), hash);
    default:
      return false;
  }
}

function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A bcrypt htpasswd hash (the `$2y$` prefix Apache's htpasswd -B writes). */
export function bcryptHash(password: string, cost = 10): string {
  return bcrypt.hashSync(password, cost).replace(/^\$2[ab]\$/, '$2y$');
}

/** A random password for a new host: 24 URL-safe characters (144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

// A hash to compare against for unknown users, so the answer takes as long as for known ones.
const DUMMY_COST = 10;
const DUMMY_HASH = bcrypt.hashSync('deaddrop-no-such-user', DUMMY_COST);

/** Whether checking against `hash` costs at least as much as the dummy comparison. */
function costsAsMuchAsDummy(hash: string): boolean {
  const cost = /^\$2[aby]\$(\d\d)\$/.exec(hash)?.[1];
  return cost !== undefined && Number(cost) >= DUMMY_COST;
}

/**
 * The htpasswd file as the server sees it: re-read whenever its mtime, size or inode changes
 * (one stat per request), so adding a host needs no restart. Successful checks are cached by a
 * digest of user, password and hash, because bcrypt costs tens of milliseconds and WebDAV
 * clients send credentials with every request.
 */
export class HtpasswdStore {
  private users = new Map<string, string>();
  private stamp = '';
  private readonly verified = new Set<string>();
  private readonly checks = new PasswordChecks();

  constructor(readonly path: string) {}

  /** First load: a missing or unreadable file is a configuration error. */
  async load(): Promise<void> {
    try {
      await this.refresh();
    } catch (err) {
      throw new ConfigError(this.path, undefined, `cannot read htpasswd file: ${(err as Error).message}`);
    }
  }

  private async refresh(): Promise<void> {
    const st = await stat(this.path);
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (stamp === this.stamp) return;
    this.users = parseHtpasswd(await readFile(this.path, 'utf8'));
    this.stamp = stamp;
    this.verified.clear();
  }

  /** Re-read a changed file; if it cannot be read, know no users (fail closed). */
  private async refreshOrForget(): Promise<void> {
    try {
      await this.refresh();
    } catch {
      this.users = new Map();
      this.stamp = '';
    }
  }

  /** Whether the file (as last loaded) has an entry for user. */
  has(user: string): boolean {
    return this.users.has(user);
  }

  /** Stop the password check worker. */
  close(): Promise<void> {
    return this.checks.close();
  }

  /**
   * True when user and password match the current file and were verified before (cached): no
   * hash is computed, so this costs nothing. False says nothing about whether they are right.
   */
  async alreadyVerified(user: string, password: string): Promise<boolean> {
    await this.refreshOrForget();
    const hash = this.users.get(user);
    return hash !== undefined && this.verified.has(cacheKey(user, password, hash));
  }

  /**
   * True when user and password match the current file. Fails closed if the file vanished.
   * bcrypt runs in `client`'s turn (password-checks.ts: BusyError when it has too many waiting).
   */
  async verify(user: string, password: string, client = '-'): Promise<boolean> {
    await this.refreshOrForget();
    const hash = this.users.get(user);
    if (hash === undefined) {
      await this.checks.compare(password, DUMMY_HASH, client);
      return false;
    }
    const key = cacheKey(user, password, hash);
    if (this.verified.has(key)) return true;
    const matches =
      hashScheme(hash) === 'bcrypt' ? this.checks.compare(password, hash, client) : verifyHash(password, hash);
    if (await matches) {
      if (this.verified.size >= 4096) this.verified.clear();
      this.verified.add(key);
      return true;
    }
    // A failure against a quick hash ({SHA}, apr1, cheap bcrypt) would answer sooner than one
    // for an unknown user or a cost-10 bcrypt user: that would tell which names exist.
    if (!costsAsMuchAsDummy(hash)) await this.checks.compare(password, DUMMY_HASH, client);
    return false;
  }
}

function cacheKey(user: string, password: string, hash: string): string {
  return createHash('sha256').update(`${user}\0${password}\0${hash}`).digest('base64');
}
