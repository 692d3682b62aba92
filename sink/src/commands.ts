import type { DeaddropCommand } from '@deaddrop/common';
import { sinkCommand } from './commands/sink.js';

/** This package's `deaddrop` subcommands (registered by the CLI entry). */
export const commands: DeaddropCommand[] = [sinkCommand];
