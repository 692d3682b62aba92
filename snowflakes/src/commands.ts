import type { DeaddropCommand } from '@deaddrop/common';
import { snowflakeCommand } from './command.js';

/** This package's `deaddrop` subcommands (registered by the CLI entry). */
export const commands: DeaddropCommand[] = [snowflakeCommand];
