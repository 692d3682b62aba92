import type { DeaddropCommand } from '@deaddrop/common';
import { rdiffCommand } from './rsync/command.js';
import { backupCommand } from './backup/command.js';
import { statusCommand } from './backup/status-command.js';
import { restoreCommand } from './restore/command.js';
import { listCommand } from './restore/list-command.js';
import { verifyCommand } from './restore/verify-command.js';

/** This package's `deaddrop` subcommands (registered by the CLI entry). */
export const commands: DeaddropCommand[] = [
  rdiffCommand,
  backupCommand,
  statusCommand,
  restoreCommand,
  listCommand,
  verifyCommand,
];
