import type { ArgumentsCamelCase, CommandModule } from 'yargs';
import { UsageError } from './errors.js';

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

/** What yargs' getOptions() says of the options declared for the command being run. */
export interface DeclaredOptions {
  string: string[];
  number: string[];
  array: string[];
}

/**
 * yargs turns an option given twice into an array, which a command reading one value would
 * take for a path or a time and fail on with a TypeError (`--from A --from B`). An option
 * declared with one value, given more than once, is a usage error instead.
 */
export function refuseRepeatedOptions(argv: Record<string, unknown>, declared: DeclaredOptions): void {
  const many = new Set(declared.array);
  for (const name of [...declared.string, ...declared.number]) {
    if (many.has(name)) continue;
    const value = argv[name];
    if (Array.isArray(value))
      throw new UsageError(`--${name} given ${value.length} times: it takes one value (${value.join(', ')})`);
  }
}
