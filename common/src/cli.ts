import type { ArgumentsCamelCase, CommandModule } from 'yargs';

/** Options every command accepts (registered once by the CLI entry). */
export interface GlobalOptions {
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

/** A package's command modules; the CLI entry registers them. */
export type DeaddropCommand = CommandModule<GlobalOptions, any>;

/**
 * Wrap a command implementation: a returned number becomes the exit code; thrown errors
 * reach the CLI entry, which prints one line and maps them to exit codes.
 */
export function handler<A>(
  fn: (argv: ArgumentsCamelCase<A & GlobalOptions>) => Promise<number | void> | number | void,
) {
  return async (argv: ArgumentsCamelCase<A & GlobalOptions>): Promise<void> => {
    const code = await fn(argv);
    if (typeof code === 'number') process.exitCode = code;
  };
}
