/** List the sink root: one directory per host, the embedded sink's temp directory, strays. */
import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FILE_SINK_TEMP_PREFIX } from '@deaddrop/client/format/names';

export interface SinkFile {
  /** The name as UTF-8; a name that is not valid UTF-8 is shown lossily (U+FFFD) and `irregular`. */
  name: string;
  path: string;
  size: number;
  /** Epoch seconds. */
  mtime: number;
  /** Not a regular file (directory, symlink, …, or a name that is not UTF-8): never a backup file. */
  irregular: boolean;
  /** A symlink: nginx's PUT would follow it out of the tree (see symlinkProblem). */
  symlink: boolean;
}

export interface SinkListing {
  hostDirs: Map<string, SinkFile[]>;
  /** Per host directory: what could not be listed (the directory itself, or one of its entries). */
  hostErrors: Map<string, string[]>;
  /** Host directories that could not be read at all (their file list is empty). */
  unreadableDirs: Set<string>;
  /** Files in ROOT/.deaddrop-tmp (the embedded sink's upload temp directory). */
  tempFiles: SinkFile[];
  /** Entries of ROOT/.deaddrop-tmp that could not be listed (other than vanished ones). */
  tempErrors: string[];
  /** Root entries that are symlinks (a host directory must never be one). */
  rootSymlinks: string[];
  /** Root entries that are neither directories nor symlinks: files where a host's directory goes. */
  rootFiles: string[];
  /** Why the root itself could not be listed (then every other field is empty). */
  rootError?: string;
}

/** The embedded sink's temp directory (sink/src/put.ts): `HOST.<16 hex>.part` while a PUT runs. */
export const SINK_TEMP_DIR = '.deaddrop-tmp';
/** The running embedded sink's lock file in its temp directory (sink/src/serve-setup.ts). */
const SINK_LOCK_NAME = 'serve.lock';
/** Root entries that are never hosts. */
const ROOT_IGNORED = new Set(['lost+found', SINK_TEMP_DIR]);

/** A name read as bytes: its UTF-8 text, and whether that text is exactly those bytes. */
function decodeName(raw: Buffer): { name: string; exact: boolean } {
  const name = raw.toString('utf8');
  return { name, exact: Buffer.from(name, 'utf8').equals(raw) };
}

/**
 * A host directory's name for the report: its UTF-8 text, each byte that is not part of valid
 * UTF-8 written `\xNN`. Unlike U+FFFD, two such names never read the same (each is a host of
 * its own in the report).
 */
export function escapedName(raw: Buffer): string {
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const b = raw[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    const seq = len ? raw.subarray(i, i + len) : undefined;
    const text = seq?.length === len ? seq.toString('utf8') : undefined;
    if (text !== undefined && Buffer.from(text, 'utf8').equals(seq!)) {
      out += text;
      i += len;
    } else {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      i += 1;
    }
  }
  return out;
}

function joinRaw(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, Buffer.from('/'), name]);
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code} (${e.syscall ?? 'listing'})` : String(e.message ?? e);
}

export interface DirListing {
  files: SinkFile[];
  /** One line per entry (or the directory) that could not be listed; ENOENT entries vanished. */
  errors: { name: string; code: string | undefined; message: string }[];
}

/**
 * List one directory. Names are read as bytes and each entry lstat'ed by its byte path, so a
 * name that is not UTF-8 is still listed (irregular, shown lossily); an entry that cannot be
 * lstat'ed (deleted meanwhile, no permission) is an error of its own, the rest still listed.
 * Throws only when the directory itself cannot be read.
 */
export async function listDir(dir: string | Buffer): Promise<DirListing> {
  const rawDir = typeof dir === 'string' ? Buffer.from(dir) : dir;
  const raw = (await readdir(rawDir, { encoding: 'buffer' })).sort(Buffer.compare);
  const files: SinkFile[] = [];
  const errors: DirListing['errors'] = [];
  // a directory may hold millions of entries: lstat them a batch at a time, so the stats and
  // promises in flight stay bounded
  for (let i = 0; i < raw.length; i += LSTAT_BATCH) {
    const stats = await Promise.all(
      raw.slice(i, i + LSTAT_BATCH).map(async (r) => {
        try {
          return { r, st: await lstat(joinRaw(rawDir, r)) };
        } catch (err) {
          return { r, err: err as NodeJS.ErrnoException };
        }
      }),
    );
    for (const entry of stats) listEntry(rawDir, entry, files, errors);
  }
  return { files, errors };
}

/** How many entries of a directory are lstat'ed at once. */
const LSTAT_BATCH = 256;

/** One lstat'ed entry, into `files` or, when it could not be, `errors`. */
function listEntry(
  rawDir: Buffer,
  { r, st, err }: { r: Buffer; st?: Stats; err?: NodeJS.ErrnoException },
  files: SinkFile[],
  errors: DirListing['errors'],
): void {
  const { name, exact } = decodeName(r);
  if (!st) {
    errors.push({
      name,
      code: err?.code,
      message: `${name}: cannot be listed: ${errorText(err)}${err?.code === 'ENOENT' ? ', gone during the scan' : ''}`,
    });
    return;
  }
  files.push({
    name,
    path: join(rawDir.toString('utf8'), name),
    size: st.size,
    mtime: Math.floor(st.mtimeMs / 1000),
    irregular: !st.isFile() || !exact,
    symlink: st.isSymbolicLink(),
  });
}

export async function scanRoot(root: string): Promise<SinkListing> {
  const hostDirs = new Map<string, SinkFile[]>();
  const hostErrors = new Map<string, string[]>();
  const unreadableDirs = new Set<string>();
  const rootSymlinks: string[] = [];
  const rootFiles: string[] = [];
  const rawRoot = Buffer.from(root);
  let entries;
  try {
    entries = await readdir(rawRoot, { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    // nothing can be checked, but the report saying so is still written and sent
    const rootError = `${root}: cannot be read: ${errorText(err)}`;
    return { hostDirs, hostErrors, unreadableDirs, tempFiles: [], tempErrors: [], rootSymlinks, rootFiles, rootError };
  }
  for (const entry of entries) {
    const { exact } = decodeName(entry.name);
    const name = exact ? entry.name.toString('utf8') : escapedName(entry.name);
    // dot entries are the sink's own (temp dir) or the admin's; a host name never starts with a dot
    if (ROOT_IGNORED.has(name) || name.startsWith('.')) continue;
    if (entry.isSymbolicLink()) rootSymlinks.push(name);
    else if (entry.isDirectory()) {
      const errors: string[] = [];
      if (!exact) errors.push(`${join(root, name)}: directory name is not UTF-8`);
      try {
        const l = await listDir(joinRaw(rawRoot, entry.name));
        hostDirs.set(name, l.files);
        for (const e of l.errors) errors.push(e.message);
      } catch (err) {
        hostDirs.set(name, []);
        unreadableDirs.add(name);
        errors.push(`${join(root, name)}: directory cannot be read: ${errorText(err)}`);
      }
      if (errors.length) hostErrors.set(name, errors);
    } else rootFiles.push(name);
  }
  rootSymlinks.sort();
  rootFiles.sort();
  let tempFiles: SinkFile[] = [];
  const tempErrors: string[] = [];
  try {
    const l = await listDir(join(root, SINK_TEMP_DIR));
    tempFiles = l.files.filter((f) => f.name !== SINK_LOCK_NAME);
    // a temp file that vanished meanwhile is an upload that finished: not a problem
    for (const e of l.errors) if (e.code !== 'ENOENT') tempErrors.push(`${SINK_TEMP_DIR}/${e.message}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      tempErrors.push(`${SINK_TEMP_DIR}: directory cannot be read: ${errorText(err)}`);
  }
  return { hostDirs, hostErrors, unreadableDirs, tempFiles, tempErrors, rootSymlinks, rootFiles };
}

/**
 * Names of temp files: nginx's copy-then-rename `NAME.0123456789`, `.part`/`.tmp` names, a
 * `file://` sink's upload in progress.
 */
export function isTempName(name: string): boolean {
  if (name.startsWith(FILE_SINK_TEMP_PREFIX) && /^[0-9a-f]{12}$/.test(name.slice(FILE_SINK_TEMP_PREFIX.length)))
    return true;
  return /\.\d{10}$/.test(name) || /\.(part|tmp)$/.test(name) || /^\.?#|~$/.test(name);
}

/** How far ahead of the check's clock a file may be dated and still be a fresh upload (seconds). */
export const CLOCK_SLACK = 300;

/**
 * A file that may still be uploading: modified within `grace` before now. One dated further
 * ahead than the slack (a clock stepped back, an nginx PUT dating it from the client's Date:
 * header) is not: it would count as in progress forever and hide what is missing.
 */
export function mayBeUploading(mtime: number, now: number, grace: number): boolean {
  return now - mtime <= grace && mtime <= now + CLOCK_SLACK;
}

/** Which host a sink temp file belongs to: `HOST.<16 hex>.part`. */
export function tempFileHost(name: string): string | undefined {
  return /^(.+)\.[0-9a-f]{16}\.part$/.exec(name)?.[1];
}
