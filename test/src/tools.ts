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
  if (missing.length === 0) return false;
  const msg = `missing tool(s): ${missing.join(', ')} (.ci/run installs them)`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`CI: ${msg}`);
  return msg;
}

/** True when running as root (devices, chown, sshd and nginx tests need it). */
export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
