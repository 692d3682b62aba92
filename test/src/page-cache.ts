/** What the kernel holds of a file in its page cache, for tests of a restore's writes (fincore, util-linux-extra). */
import { execFileSync } from 'node:child_process';

/** Bytes of `path` in the page cache. */
export function cachedBytes(path: string): number {
  const out = execFileSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', path], {
    encoding: 'utf8',
  });
  return Number(out);
}

/** Why a test of page-cache residency cannot run in `dir` (tmpfs keeps every page it has), or false. */
export function pageCacheSkip(dir: string): string | false {
  const fs = execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
  return fs === 'tmpfs' ? `${dir} is on tmpfs, whose pages cannot be dropped` : false;
}
