import { type DeaddropCommand } from '@deaddrop/common/cli';
import { serveCommand } from './serve.js';
import { addHostCommand } from './add-host.js';
import { nginxConfigCommand } from './nginx-config.js';

export const sinkCommand: DeaddropCommand = {
  command: 'sink <command>',
  describe: 'The write-only WebDAV sink: serve, add-host, nginx-config',
  builder: (y) =>
    y
      .command([serveCommand, addHostCommand, nginxConfigCommand])
      .demandCommand(1, 'Name a sink command: serve, add-host, nginx-config'),
  handler: () => {},
};
