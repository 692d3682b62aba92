/**
 * Where each subcommand comes from, so a run loads only the code it needs: each package pulls
 * in its own libraries (zod, pkijs, webdav, ...), and loading all of them costs some 30 MiB of
 * RSS before any work starts. `--help`, an unknown command or no command loads every package,
 * so yargs can list, suggest and refuse exactly as before.
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

type CommandLoader = () => Promise<DeaddropCommand>;

function named(commands: DeaddropCommand[], name: string): DeaddropCommand {
  const found = commands.find((c) => String(c.command).split(' ')[0] === name);
  if (!found) throw new Error(`internal: no command ${name} where cli/src/registry.ts looks for it`);
  return found;
}

const fromPackage =
  (pkg: keyof typeof packages, name: string): CommandLoader =>
  async () =>
    named((await packages[pkg]()).commands, name);

/**
 * Subcommand → how to load it: its package, except `rdiff`, which scripts run once per file, so
 * its start-up counts. The client's six commands take ~46 ms to load, `rdiff` alone ~14 ms.
 * `restore` loaded alone (without the client's other command modules) peaked 8-10 MiB higher
 * restoring the bench's 1 GiB set (103-107 against 91-95 MiB, runs alternating), so the other
 * client commands still load with their package. The cause is the GC's timing, not their code.
 * Restore's 512 KiB inflate buffers outlive two scavenges and are promoted, so only a
 * mark-compact frees them. With the rsync modules loaded (their WebAssembly included), V8 ran
 * 44 mark-compacts in that restore; without them, 27. The dead buffers between two of them
 * peaked at 34 instead of 21 MiB (process.memoryUsage().arrayBuffers). The same happens when
 * restore/delta-sink.ts imports rsync/patch.js instead of the rsync/index.js barrel.
 * A test checks this table against what the packages register.
 */
export const commandLoaders: Record<string, CommandLoader> = {
  keys: fromPackage('keys', 'keys'),
  encrypt: fromPackage('keys', 'encrypt'),
  decrypt: fromPackage('keys', 'decrypt'),
  rdiff: async () => (await import('@deaddrop/client/rsync/command')).rdiffCommand,
  backup: fromPackage('client', 'backup'),
  status: fromPackage('client', 'status'),
  restore: fromPackage('client', 'restore'),
  list: fromPackage('client', 'list'),
  verify: fromPackage('client', 'verify'),
  sink: fromPackage('sink', 'sink'),
  check: fromPackage('check', 'check'),
  snowflake: fromPackage('snowflakes', 'snowflake'),
};

/** The first word that is not an option names the command. */
export function commandWord(argv: string[]): string | undefined {
  return argv.find((a) => !a.startsWith('-'));
}

export function isCommand(word: string): boolean {
  return Object.hasOwn(commandLoaders, word);
}

export async function loadAllCommands(): Promise<DeaddropCommand[]> {
  const all = await Promise.all(Object.values(packages).map((load) => load()));
  return all.flatMap((m) => m.commands);
}

export async function loadCommands(argv: string[]): Promise<DeaddropCommand[]> {
  const word = commandWord(argv);
  // --version needs no command at all
  if (word === undefined && argv.includes('--version') && !argv.some((a) => a === '--help' || a === '-h')) return [];
  const load = word === undefined || !isCommand(word) ? undefined : commandLoaders[word];
  if (load === undefined) return loadAllCommands();
  return [await load()];
}
