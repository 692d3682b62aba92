import { type DeaddropCommand } from '@deaddrop/common/cli';
import { keysCommand } from './commands/keys.js';
import { encryptCommand } from './commands/encrypt.js';
import { decryptCommand } from './commands/decrypt.js';

/** This package's `deaddrop` subcommands (registered by the CLI entry). */
export const commands: DeaddropCommand[] = [keysCommand, encryptCommand, decryptCommand];
