import { type DeaddropCommand } from '@deaddrop/common/cli';
import { keysGenerateCommand } from './keys-generate.js';
import { keysShowCommand } from './keys-show.js';

export const keysCommand: DeaddropCommand = {
  command: 'keys <command>',
  describe: 'The offline recipient key pair: generate, show',
  builder: (y) =>
    y.command([keysGenerateCommand, keysShowCommand]).demandCommand(1, 'Name a keys command: generate, show'),
  handler: () => {},
};
