import { spawnSync } from 'node:child_process';

/** True when a command is on PATH. */
export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v "$1" >/dev/null 2>&1`, 'sh', name]).status === 0;
}

/**
 * For `test(name, { skip: missingTools('rdiff') }, fn)`: outside CI a missing tool skips the test
 * with a message; in CI (CI=true) it is a failure, never a silent skip.
 */
export function missingTools(...names: string[]): string | false {
  const missing = names.filter((n) => !hasTool(n));
  return missingUnless(missing.length === 0, `missing tool(s): ${missing.join(', ')} (.ci/run installs them)`);
}

/** missingTools for any other part a test needs (an addon, say): `msg` when it is not there. */
export function missingUnless(present: boolean, msg: string): string | false {
  if (present) return false;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`CI: ${msg}`);
  return msg;
}

/** True when running as root (devices, chown, sshd and nginx tests need it). */
export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** missingTools for a test that must run as root (`why`: what for), and its tools; CI runs as root. */
export function needsRoot(why: string, ...tools: string[]): string | false {
  return missingUnless(isRoot, `needs root (${why})`) || missingTools(...tools);
}

/** Why tests of the ISA-L addon (client/native) skip outside CI. */
export const ADDON_MISSING = 'the ISA-L addon is not built (apt-get install gcc libisal-dev && npm run build:native)';
export const POOL_ADDONS_MISSING =
  'the digest, stage and cipher addons are not built (apt-get install gcc && npm run build:native)';
