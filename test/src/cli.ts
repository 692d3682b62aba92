import { spawn, type SpawnOptions } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/src/cli.ts). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The argv that runs the deaddrop CLI: from the TypeScript sources by default, through the
 * launcher when DEADDROP_CLI=dist (what `npm ci` installs as node_modules/.bin/deaddrop: it runs
 * the bundle in cli/bundle, else the compiled dist).
 */
export function deaddropArgv(): string[] {
  const launcher = join(repoRoot, 'cli', 'bin', 'deaddrop.js');
  const flags = launcherFlags(launcher);
  if (process.env.DEADDROP_CLI === 'dist') return [process.execPath, ...flags, launcher];
  return [
    process.execPath,
    ...flags,
    '--conditions=source',
    '--import',
    'tsx',
    join(repoRoot, 'cli', 'src', 'main.ts'),
  ];
}

/** The node flags of the launcher's `#!/usr/bin/env -S node FLAGS` line: what an installed `deaddrop` runs with. */
function launcherFlags(launcher: string): string[] {
  const first = readFileSync(launcher, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\S*env -S node((?: --?[\w-]+(?:=\S+)?)*)\s*$/.exec(first);
  if (!m) throw new Error(`${launcher}: unexpected first line ${first}`);
  return m[1]!.trim().split(/\s+/).filter(Boolean);
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `deaddrop ARGS`, collecting output. `input` is written to stdin. */
export function runDeaddrop(args: string[], opts: SpawnOptions & { input?: string | Buffer } = {}): Promise<RunResult> {
  const [cmd, ...pre] = deaddropArgv();
  return runCommand(cmd!, [...pre, ...args], opts);
}

/** Run any command, collecting output. */
export function runCommand(
  cmd: string,
  args: string[],
  opts: SpawnOptions & { input?: string | Buffer } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
  });
}

/** A directory with an executable `deaddrop` wrapper, for shell scripts that call the CLI by name. */
export function deaddropOnPath(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const argv = deaddropArgv().map((a) => `'${a.replace(/'/g, `'\\''`)}'`);
  const file = join(dir, 'deaddrop');
  writeFileSync(file, `#!/bin/sh\nexec ${argv.join(' ')} "$@"\n`);
  chmodSync(file, 0o755);
  return dir;
}
