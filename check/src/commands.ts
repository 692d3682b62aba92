import type { DeaddropCommand } from '@deaddrop/common';

/** This package's `deaddrop` subcommands (registered by the CLI entry). */
export const commands: DeaddropCommand[] = [];
