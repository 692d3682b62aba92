import { mkdir, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError, UsageError } from '@deaddrop/common/errors';
import { unlinkQuietly } from './safe-fs.js';

/** The default temp directory: a dot-directory in ROOT (see resolveTempDir). */
export const DEFAULT_TEMP_NAME = '.deaddrop-tmp';

/**
 * Where upload bodies are spooled. Default ROOT/.deaddrop-tmp: inside ROOT on disk, so it is on
 * the same file system even when ROOT is a mount point (link() cannot cross file systems), yet
 * outside the served tree, because no URL can name it: host names and path segments may not
 * start with a dot. A sibling like ROOT.tmp would land on the parent file system exactly when
 * ROOT is its own mount. --temp may name any directory on ROOT's file system.
 */
export async function prepareDirs(
  rootArg: string,
  tempArg: string | undefined,
): Promise<{ root: string; tempDir: string }> {
  const root = resolve(rootArg);
  const rootStat = await stat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) throw new UsageError(`--root ${root}: not a directory`);
  const tempDir = resolve(tempArg ?? join(root, DEFAULT_TEMP_NAME));
  await mkdir(tempDir, { recursive: true, mode: 0o700 });
  const tempStat = await stat(tempDir);
  if (tempStat.dev !== rootStat.dev)
    throw new ConfigError('--temp', undefined, `${tempDir} is not on the file system of ${root} (link() needs one)`);
  if (tempDir !== join(root, DEFAULT_TEMP_NAME) && (tempDir + '/').startsWith(root + '/'))
    throw new UsageError(`--temp ${tempDir}: must not be inside ${root} (only ${DEFAULT_TEMP_NAME} is unreachable)`);
  return { root, tempDir };
}

/** The lock file in the temp directory: one server per temp directory. */
export const SERVE_LOCK_NAME = 'serve.lock';

/** Remove temp files a killed server left behind (call with the temp directory's lock held). */
export async function removeStaleTemps(tempDir: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(tempDir)) {
    if (!name.endsWith('.part')) continue;
    await unlinkQuietly(join(tempDir, name));
    n++;
  }
  return n;
}
