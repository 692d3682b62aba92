import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { DeaddropError } from '@deaddrop/common/errors';

export const nginxConfigCommand = {
  command: 'nginx-config',
  describe: 'Print the hardened nginx server block for a write-only sink',
  builder: (y) => y,
  handler: handler(async () => {
    throw new DeaddropError('not yet');
  }),
} as DeaddropCommand;
