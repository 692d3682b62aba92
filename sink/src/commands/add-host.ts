import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, lstat, mkdir, open, realpath, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { printResult } from '@deaddrop/common/output';
import { DeaddropError, UsageError } from '@deaddrop/common/errors';
import { ensureHtpasswdEntry, type EntryChange } from '../htpasswd-file.js';
import { hostNameProblem } from '../names.js';

interface Args {
  host: string;
  root: string;
  htpasswd: string;
  passwordStdin?: boolean;
  cost: number;
  owner?: string;
}

interface AddHostResult {
  host: string;
  directory: string;
  directoryCreated: boolean;
  htpasswd: string;
  entry: EntryChange;
  /** The mode ROOT/HOST had (octal) when it was put back to 0750: a rerun after a change by hand. */
  directoryModeWas?: string;
  /** Set when the htpasswd file was given the --owner's group (new, or lacking it). */
  htpasswdGroup?: string;
  /** The mode the htpasswd file had (octal) when --owner put it back to 0640. */
  htpasswdModeWas?: string;
  /** Only when generated here: shown once, stored nowhere but as a bcrypt hash. */
  password?: string;
}

/** What a command prints, or undefined when it fails (e.g. `id` of a user that does not exist). */
async function output(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    return (await promisify(execFile)(cmd, args)).stdout.trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DeaddropError(`${cmd}: not found`);
    return undefined;
  }
}

interface Owner {
  uid: number;
  /** For the host directory: GROUP of USER:GROUP, or -1 (USER alone keeps the group, as chown USER). */
  dirGid: number;
  /** For the htpasswd file: GROUP, else USER's primary group. */
  gid: number;
  group: string;
}

/** --owner USER[:GROUP] as ids; a user or group that does not exist is a usage error. */
async function resolveOwner(spec: string): Promise<Owner> {
  const [user = '', group, ...rest] = spec.split(':');
  if (!user || rest.length) throw new UsageError(`--owner ${spec}: must be USER or USER:GROUP`);
  const uid = await output('id', ['-u', user]);
  if (uid === undefined) throw new UsageError(`--owner ${spec}: no such user ${user}`);
  if (!group) {
    // USER: (empty group) is USER's login group for the directory too, as with chown
    const gid = Number(await output('id', ['-g', user]));
    if (!Number.isInteger(gid)) throw new DeaddropError(`--owner ${spec}: id -g ${user} failed`);
    const name = (await output('id', ['-gn', user])) ?? String(gid);
    return { uid: Number(uid), dirGid: group === '' ? gid : -1, gid, group: name };
  }
  const gid = /^\d+$/.test(group) ? group : (await output('getent', ['group', group]))?.split(':')[2];
  if (gid === undefined) throw new UsageError(`--owner ${spec}: no such group ${group}`);
  return { uid: Number(uid), dirGid: Number(gid), gid: Number(gid), group };
}

/** An errno as words, without the path node puts in its messages (the caller names the file). */
function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOTDIR: 'a component of the path is not a directory',
    ELOOP: 'too many levels of symbolic links',
    ENAMETOOLONG: 'name too long',
  };
  return (e.code && words[e.code]) ?? e.message;
}

/**
 * Why --htpasswd cannot be the htpasswd file, or undefined. Checked before anything is written:
 * the file is rewritten as a temp file + rename in its directory, which must exist and be writable.
 */
async function htpasswdProblem(file: string): Promise<string | undefined> {
  try {
    const st = await stat(file);
    if (st.isDirectory()) return 'is a directory';
    if (!st.isFile()) return 'not a regular file';
    await access(file, constants.R_OK | constants.W_OK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return reason(err);
    if ((await lstat(file).catch(() => undefined))?.isSymbolicLink()) return 'a symbolic link to nothing';
  }
  const dir = dirname(file);
  try {
    if (!(await stat(dir)).isDirectory()) return `${dir} is not a directory`;
    await access(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `directory ${dir} does not exist` : `directory ${dir}: ${reason(err)}`;
  }
  return undefined;
}

/** A mode as chmod takes it: 0750. */
const octal = (mode: number) => mode.toString(8).padStart(4, '0');

function symlinkRefused(directory: string): DeaddropError {
  return new DeaddropError(
    `${directory}: a symbolic link, not a directory: refused (remove it; add-host makes the directory)`,
  );
}

/** The host directory: its owner (the sink) writes, the owner's group (e.g. check's) reads. */
const DIRECTORY_MODE = 0o750;

/**
 * Open ROOT/HOST without following a symlink (one swapped in since the lstat is refused too)
 * and chown and chmod it through that descriptor: neither can land anywhere else. The mode is
 * set whatever the umask, and put back on a rerun, as the owner is: a rerun converges to what a
 * first run makes. Returns the mode it had when that was another.
 */
async function ownDirectory(directory: string, owner: Owner | undefined): Promise<number | undefined> {
  let fh;
  try {
    fh = await open(directory, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw symlinkRefused(directory);
    if (code === 'ENOTDIR') throw new DeaddropError(`${directory}: exists and is not a directory`);
    throw err;
  }
  try {
    if (owner) await fh.chown(owner.uid, owner.dirGid);
    // after the chown, which may clear set-id bits
    const was = (await fh.stat()).mode & 0o7777;
    if (was === DIRECTORY_MODE) return undefined;
    await fh.chmod(DIRECTORY_MODE);
    return was;
  } finally {
    await fh.close();
  }
}

async function readStdinPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (password === '') throw new UsageError('--password-stdin: empty password on stdin');
  if (password.includes('\n')) throw new UsageError('--password-stdin: the password must be one line');
  return password;
}

export const addHostCommand = {
  command: 'add-host <host>',
  describe: 'Enrol a host on this sink: ROOT/HOST directory and a bcrypt htpasswd entry (idempotent)',
  builder: (y) =>
    y
      .positional('host', { type: 'string', demandOption: true, describe: 'Host name (= the Basic-auth user)' })
      .option('root', { type: 'string', demandOption: true, describe: 'Sink root directory' })
      .option('htpasswd', { type: 'string', demandOption: true, describe: 'Apache htpasswd file (created if missing)' })
      .option('password-stdin', {
        type: 'boolean',
        describe: 'Read the password from stdin (default: generate one and print it once)',
      })
      .option('cost', { type: 'number', default: 10, describe: 'bcrypt cost (4-14)' })
      .option('owner', {
        type: 'string',
        describe:
          'USER[:GROUP]: chown the host directory, and give the htpasswd file the group (e.g. www-data for nginx)',
      }),
  handler: handler<Args>(async (argv) => {
    const problem = hostNameProblem(argv.host);
    if (problem) throw new UsageError(problem);
    if (!Number.isInteger(argv.cost) || argv.cost < 4 || argv.cost > 14)
      throw new UsageError(`--cost ${argv.cost}: must be 4 to 14`);
    const root = resolve(argv.root);
    const rootStat = await stat(root).catch(() => undefined);
    if (!rootStat?.isDirectory()) throw new UsageError(`--root ${root}: not a directory`);

    const htpasswdBad = await htpasswdProblem(argv.htpasswd);
    if (htpasswdBad) throw new UsageError(`--htpasswd ${argv.htpasswd}: ${htpasswdBad}`);

    const owner = argv.owner === undefined ? undefined : await resolveOwner(argv.owner);
    // ROOT is the admin's path (a symlink there is followed); HOST inside it is not: whoever
    // owns ROOT (the sink user) could plant ROOT/HOST -> /etc for a root chown to follow
    const directory = join(await realpath(root), argv.host);
    const existing = await lstat(directory).catch(() => undefined);
    if (existing?.isSymbolicLink()) throw symlinkRefused(directory);
    if (existing && !existing.isDirectory()) throw new DeaddropError(`${directory}: exists and is not a directory`);
    const password = argv.passwordStdin ? await readStdinPassword() : undefined;

    // the directory before the entry: a failure here writes no entry whose password nobody saw
    let directoryCreated = true;
    try {
      await mkdir(directory, { mode: 0o750 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      directoryCreated = false;
    }
    const directoryModeWas = await ownDirectory(directory, owner);

    // nginx / deaddrop-sink read the htpasswd file through the owner's group (0640)
    const {
      change: entry,
      generated,
      groupChanged,
      modeWas,
    } = await ensureHtpasswdEntry(argv.htpasswd, argv.host, password, argv.cost, owner?.gid);
    const result: AddHostResult = { host: argv.host, directory, directoryCreated, htpasswd: argv.htpasswd, entry };
    // a new directory had the umask's mode: not worth a word
    if (directoryModeWas !== undefined && !directoryCreated) result.directoryModeWas = octal(directoryModeWas);
    if (groupChanged) result.htpasswdGroup = owner!.group;
    if (modeWas !== undefined) result.htpasswdModeWas = octal(modeWas);
    if (generated) result.password = generated;
    printResult(argv.json, result, (r) => [
      `${r.host}: directory ${r.directory} ${r.directoryCreated ? 'created' : 'exists'}` +
        (r.directoryModeWas ? `; directory mode set to 0750 (was ${r.directoryModeWas})` : '') +
        `; htpasswd entry ${r.entry}` +
        (r.htpasswdGroup ? `; htpasswd group set to ${r.htpasswdGroup}` : '') +
        (r.htpasswdModeWas ? `; htpasswd mode set to 0640 (was ${r.htpasswdModeWas})` : ''),
      ...(r.password ? [`password (shown once): ${r.password}`] : []),
    ]);
  }),
} as DeaddropCommand;
