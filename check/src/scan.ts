/** List the sink root: one directory per host, the embedded sink's temp directory, strays. */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface SinkFile {
  name: string;
  path: string;
  size: number;
  /** Epoch seconds. */
  mtime: number;
  /** Not a regular file (directory, symlink, …): never a backup file. */
  irregular: boolean;
  /** A symlink: nginx's PUT would follow it out of the tree (see symlinkProblem). */
  symlink: boolean;
}

export interface SinkListing {
  hostDirs: Map<string, SinkFile[]>;
  /** Files in ROOT/.deaddrop-tmp (the embedded sink's upload temp directory). */
  tempFiles: SinkFile[];
  /** Root entries that are symlinks (a host directory must never be one). */
  rootSymlinks: string[];
}

/** The embedded sink's temp directory (sink/src/put.ts): `HOST.<16 hex>.part` while a PUT runs. */
export const SINK_TEMP_DIR = '.deaddrop-tmp';
/** The running embedded sink's lock file in its temp directory (sink/src/serve-setup.ts). */
const SINK_LOCK_NAME = 'serve.lock';
/** Root entries that are never hosts. */
const ROOT_IGNORED = new Set(['lost+found', SINK_TEMP_DIR]);

export async function listDir(dir: string): Promise<SinkFile[]> {
  const names = (await readdir(dir)).sort();
  return Promise.all(
    names.map(async (name) => {
      const path = join(dir, name);
      const st = await lstat(path);
      return {
        name,
        path,
        size: st.size,
        mtime: Math.floor(st.mtimeMs / 1000),
        irregular: !st.isFile(),
        symlink: st.isSymbolicLink(),
      };
    }),
  );
}

export async function scanRoot(root: string): Promise<SinkListing> {
  const hostDirs = new Map<string, SinkFile[]>();
  const rootSymlinks: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    // dot entries are the sink's own (temp dir) or the admin's; a host name never starts with a dot
    if (ROOT_IGNORED.has(entry.name) || entry.name.startsWith('.')) continue;
    if (entry.isSymbolicLink()) rootSymlinks.push(entry.name);
    else if (entry.isDirectory()) hostDirs.set(entry.name, await listDir(join(root, entry.name)));
  }
  rootSymlinks.sort();
  let tempFiles: SinkFile[] = [];
  try {
    tempFiles = (await listDir(join(root, SINK_TEMP_DIR))).filter((f) => f.name !== SINK_LOCK_NAME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return { hostDirs, tempFiles, rootSymlinks };
}

/** Names of temp files: nginx's copy-then-rename `NAME.0123456789`, `.part`/`.tmp` names. */
export function isTempName(name: string): boolean {
  return /\.\d{10}$/.test(name) || /\.(part|tmp)$/.test(name) || /^\.?#|~$/.test(name);
}

/** Which host a sink temp file belongs to: `HOST.<16 hex>.part`. */
export function tempFileHost(name: string): string | undefined {
  return /^(.+)\.[0-9a-f]{16}\.part$/.exec(name)?.[1];
}
