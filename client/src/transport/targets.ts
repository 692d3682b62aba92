/**
 * The configured sinks as delivery targets: file:// directories, or WebDAV over http/https
 * with credentials from the netrc file (read only when some sink needs it). The WebDAV client
 * (webdav, node-fetch, an XML parser: some 80 modules, ~150 ms) is loaded only for such a sink.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '@deaddrop/common/errors';
import type { ClientConfig } from '@deaddrop/common/config/client';
import type { Logger } from '@deaddrop/common/log';
import { FileTarget, type SinkTargetLike } from './file-target.js';
import { Netrc } from './netrc.js';

export async function targetsFor(config: ClientConfig, configFile: string, log?: Logger): Promise<SinkTargetLike[]> {
  let netrc: Netrc | undefined;
  const out: SinkTargetLike[] = [];
  for (const [i, s] of config.sinks.entries()) {
    const url = new URL(s.url);
    if (url.protocol === 'file:') {
      out.push(new FileTarget(s.name, s.url));
      continue;
    }
    if (url.username || url.password)
      throw new ConfigError(
        configFile,
        `sinks[${i}].url`,
        'must not contain credentials (they belong in the netrc file)',
      );
    if (!url.pathname.endsWith('/'))
      throw new ConfigError(configFile, `sinks[${i}].url`, 'must name the host directory, ending in "/"');
    netrc ??= await Netrc.load(config.netrc);
    let ca: Buffer | undefined;
    if (s.ca) {
      if (url.protocol !== 'https:') throw new ConfigError(configFile, `sinks[${i}].ca`, 'only for https:// sinks');
      ca = await readFile(s.ca).catch(() => {
        throw new ConfigError(configFile, `sinks[${i}].ca`, `${s.ca}: cannot read`);
      });
    }
    const machine = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const { WebDavTarget } = await import('./webdav-target.js');
    out.push(
      new WebDavTarget({
        name: s.name,
        url: url.href,
        credentials: netrc.credentialsFor(machine),
        credentialsSource: { file: netrc.file, machine },
        ...(ca ? { ca } : {}),
        ...(log ? { log } : {}),
      }),
    );
  }
  return out;
}
