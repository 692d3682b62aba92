/**
 * Which package provides which subcommand, so a run loads only the package it needs: each
 * package pulls in its own libraries (zod, pkijs, webdav, ...), and loading all of them costs
 * some 30 MiB of RSS before any work starts. `--help`, an unknown command or no command loads
 * every package, so yargs can list, suggest and refuse exactly as before.
 */
import type { DeaddropCommand } from '@deaddrop/common/cli';

type Loader = () => Promise<{ commands: DeaddropCommand[] }>;

const packages: Record<string, Loader> = {
  keys: () => import('@deaddrop/keys/commands'),
  client: () => import('@deaddrop/client/commands'),
  sink: () => import('@deaddrop/sink/commands'),
  check: () => import('@deaddrop/check/commands'),
  snowflakes: () => import('@deaddrop/snowflakes/commands'),
  install: () => import('@deaddrop/install/commands'),
};

/** Subcommand → package. A test checks this against what the packages register. */
export const commandPackages: Record<string, keyof typeof packages> = {
  keys: 'keys',
  encrypt: 'keys',
  decrypt: 'keys',
  rdiff: 'client',
  backup: 'client',
  status: 'client',
  restore: 'client',
  list: 'client',
  verify: 'client',
  sink: 'sink',
  check: 'check',
  snowflake: 'snowflakes',
  install: 'install',
};

/** The first word that is not an option names the command. */
function commandWord(argv: string[]): string | undefined {
  return argv.find((a) => !a.startsWith('-'));
}

export async function loadAllCommands(): Promise<DeaddropCommand[]> {
  const all = await Promise.all(Object.values(packages).map((load) => load()));
  return all.flatMap((m) => m.commands);
}

export async function loadCommands(argv: string[]): Promise<DeaddropCommand[]> {
  const word = commandWord(argv);
  // --version needs no command at all
  if (word === undefined && argv.includes('--version') && !argv.some((a) => a === '--help' || a === '-h')) return [];
  const pkg = word === undefined ? undefined : commandPackages[word];
  if (pkg === undefined) return loadAllCommands();
  return (await packages[pkg]!()).commands;
}
