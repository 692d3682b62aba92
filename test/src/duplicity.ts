/**
 * Turn a host directory written by `deaddrop backup` into a plain duplicity target with stock
 * tools only (openssl cms -decrypt per .p7m, name without .p7m), and restore it with duplicity
 * 0.8.22: the oracle for what our sets contain.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, type RunResult } from './cli.js';

export function decryptForDuplicity(hostDir: string, plainKey: string, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const names = readdirSync(hostDir).filter((n) => n.startsWith('duplicity-') && n.endsWith('.p7m'));
  for (const n of names) {
    const d = spawnSync('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-inkey', plainKey, '-in', join(hostDir, n), '-out', join(outDir, n.slice(0, -4))]); // prettier-ignore
    if (d.status !== 0) throw new Error(`openssl cms -decrypt ${n}: ${d.stderr.toString()}`);
  }
  return names.map((n) => n.slice(0, -4));
}

/** `duplicity restore` of a plain (decrypted) target into `to`, at `time` if given. */
export function duplicityRestore(plainDir: string, to: string, home: string, time?: string): Promise<RunResult> {
  const args = ['restore', '--no-encryption', '--archive-dir', join(home, 'duplicity-cache'), `file://${plainDir}`, to];
  if (time) args.splice(1, 0, '--time', time);
  return runCommand('duplicity', args, { env: { ...process.env, HOME: home } });
}
