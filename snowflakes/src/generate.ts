import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '@deaddrop/common/errors';
import { recipientFromDer } from '@deaddrop/keys/recipients';
import { findFleetHost, hostUrl, loadFleetConfig } from '@deaddrop/common/config/fleet';
import type { ScriptSettings } from './scripts/header.js';
import { opnsenseConfigdAction, opnsenseScript, opnsenseSyshook } from './scripts/opnsense.js';
import { openwrtCronLine, openwrtInstallCheck, openwrtScript } from './scripts/openwrt.js';

export type SnowflakeKindName = 'opnsense' | 'openwrt';

/** One generated file: where it goes on the host and what it holds. */
export interface GeneratedFile {
  /** File name written into --out DIR. */
  name: string;
  /** Where it belongs on the host. */
  installPath: string;
  mode: number;
  content: string;
  /** How to put it in place, when not by copying it to installPath. */
  install?: string;
}

export const OPNSENSE_SCRIPT = '/usr/local/sbin/deaddrop-opnsense.sh';
export const OPENWRT_SCRIPT = '/usr/bin/deaddrop-openwrt.sh';
const OPENWRT_CHECK = '/usr/bin/deaddrop-check.sh';
const OPENWRT_KEEP = '/lib/upgrade/keep.d/deaddrop';
const OPENWRT_CRONTAB = '/etc/crontabs/root';

/**
 * sysupgrade keeps over a firmware upgrade only what /etc/sysupgrade.conf, /lib/upgrade/keep.d/*
 * and changed package conffiles list: without this file an upgrade with "keep settings" drops
 * the script, the netrc and the state, and cron calls a script that is gone. The same list goes
 * into every `sysupgrade -b` archive (encrypted), so a restored configuration backs up again.
 */
function openwrtKeepList(): string {
  return [
    '# deaddrop (generated): kept over a firmware upgrade and in every sysupgrade -b archive',
    OPENWRT_SCRIPT,
    OPENWRT_CHECK,
    OPENWRT_CRONTAB,
    '/etc/deaddrop/',
    OPENWRT_KEEP,
    '',
  ].join('\n');
}
const DEFAULT_MTD_EVERY = 7 * 86400;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * The certificates of a PEM file, one block each: every one is embedded (openssl smime encrypts
 * to each recipient file it is given; a CA file keeps them all for --cacert). A file that holds
 * a private key is refused outright: the script goes to a router, the key must never.
 */
function readCertificates(path: string, fleetFile: string, field: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(fleetFile, field, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text))
    throw new ConfigError(
      fleetFile,
      field,
      `${path} holds a PRIVATE KEY block: give the certificate alone (the script would carry the key to the host)`,
    );
  const certs = [...text.matchAll(PEM_BLOCK)].filter((b) => b[1] === 'CERTIFICATE').map((b) => b[0]);
  if (certs.length === 0) throw new ConfigError(fleetFile, field, `${path} is not a PEM certificate`);
  for (const [i, pem] of certs.entries()) {
    const which = certs.length > 1 ? `certificate ${i + 1} of ${path}` : path;
    let der: Buffer;
    try {
      der = new X509Certificate(pem).raw;
    } catch (err) {
      throw new ConfigError(fleetFile, field, `${which} is not a valid certificate (${(err as Error).message})`);
    }
    // a recipient openssl smime cannot encrypt to (EC, weak RSA) would fail every night on the host
    if (field === 'recipients') {
      try {
        recipientFromDer(der, which);
      } catch (err) {
        throw new ConfigError(fleetFile, field, (err as Error).message);
      }
    }
  }
  return certs;
}

/** Every file a snowflake host needs; the first is the backup script itself. */
export function generateSnowflake(kind: SnowflakeKindName, fleetFile: string, hostName: string): GeneratedFile[] {
  const fleet = loadFleetConfig(fleetFile);
  const host = findFleetHost(fleet, hostName, fleetFile);
  if (host.kind !== kind)
    throw new ConfigError(fleetFile, 'hosts', `host "${hostName}" is of kind ${host.kind}, not ${kind}`);
  const sinkUrls = fleet.sinks.map((s) => {
    if (s.url.startsWith('file:'))
      throw new ConfigError(fleetFile, 'sinks', `sink "${s.name}": a snowflake host needs an http(s) URL`);
    // the script is 0755 and the URL goes on curl's command line: credentials live in the netrc
    const parsed = new URL(s.url);
    if (parsed.username || parsed.password)
      throw new ConfigError(
        fleetFile,
        'sinks',
        `sink "${s.name}": URL must not contain credentials (they belong in the netrc file)`,
      );
    const url = hostUrl(s, host.name);
    if (/[\s'"\\$`]/.test(url)) throw new ConfigError(fleetFile, 'sinks', `sink "${s.name}": URL has shell characters`);
    return url;
  });
  const settings: ScriptSettings = {
    host: host.name,
    sinkUrls,
    recipientPems: fleet.recipients.flatMap((r) => readCertificates(r, fleetFile, 'recipients')),
    sinkCaPems: fleet.sinks.map((s) =>
      s.ca
        ? readCertificates(resolve(dirname(resolve(fleetFile)), s.ca), fleetFile, `sinks.${s.name}.ca`).join('\n')
        : undefined,
    ),
    tag: 'deaddrop',
    netrc: '/etc/deaddrop/netrc',
    stateDir: kind === 'opnsense' ? '/var/db/deaddrop' : '/etc/deaddrop/state',
    // Never in the state directory: OpenWrt's is on flash, where a lock outlives a power cut (its
    // pid reused by then) and cannot be made on a full overlay; OPNsense's is in the pool each
    // stream snapshots, so a restored firewall would boot with its last run's lock. /var/run is
    // emptied at each boot (tmpfs on OpenWrt, cleanvar on FreeBSD).
    lock: '/var/run/deaddrop/lock',
  };
  if (kind === 'opnsense') {
    return [
      {
        name: 'deaddrop-opnsense.sh',
        installPath: OPNSENSE_SCRIPT,
        mode: 0o755,
        content: opnsenseScript({ ...settings, dataset: host.dataset ?? 'zroot' }),
      },
      {
        name: 'actions_deaddrop.conf',
        installPath: '/usr/local/opnsense/service/conf/actions.d/actions_deaddrop.conf',
        mode: 0o644,
        content: opnsenseConfigdAction(OPNSENSE_SCRIPT),
      },
      {
        name: '50-deaddrop',
        installPath: '/usr/local/etc/rc.syshook.d/config/50-deaddrop',
        mode: 0o755,
        content: opnsenseSyshook(OPNSENSE_SCRIPT),
      },
    ];
  }
  return [
    {
      name: 'deaddrop-openwrt.sh',
      installPath: OPENWRT_SCRIPT,
      mode: 0o755,
      // (null is "off", not unset: ?? would turn it into the default)
      content: openwrtScript({
        ...settings,
        mtdEvery: host.mtdEvery === undefined ? DEFAULT_MTD_EVERY : host.mtdEvery,
      }),
    },
    {
      name: 'crontab',
      installPath: OPENWRT_CRONTAB,
      mode: 0o600,
      content: openwrtCronLine(OPENWRT_SCRIPT),
      // a copy would replace root's crontab; and cron does not run while /etc/crontabs/ is empty
      install: 'append to /etc/crontabs/root, then run /etc/init.d/cron enable; /etc/init.d/cron restart',
    },
    {
      name: 'deaddrop-check.sh',
      installPath: OPENWRT_CHECK,
      mode: 0o755,
      content: openwrtInstallCheck(),
    },
    {
      name: 'deaddrop.keep',
      installPath: OPENWRT_KEEP,
      mode: 0o644,
      content: openwrtKeepList(),
    },
  ];
}
