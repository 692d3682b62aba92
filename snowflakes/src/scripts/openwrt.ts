import { COMMON_SH } from './common.sh.js';
import { scriptHeader, type ScriptSettings } from './header.js';
import { sh } from './sh.js';

/**
 * OpenWrt: `sysupgrade -b -` every run; the MTD partitions of /proc/mtd, concatenated in that
 * order, when the last dump that reached a sink was started mtdEvery seconds before this run.
 */
export function openwrtScript(s: ScriptSettings & { mtdEvery: number }): string {
  return (
    scriptHeader('openwrt', s) +
    sh`MTD_EVERY=${String(s.mtdEvery)}
` +
    COMMON_SH +
    sh`
# shellcheck disable=SC2317 # called indirectly, through send
config_backup() { sysupgrade -b -; }

# /proc/mtd: "mtd0: 00040000 00010000 \"u-boot\"" per partition after a header line. The list is
# read first (none = failure), and the first partition that cannot be read fails the dump: a
# short image must never pass for a whole one.
# shellcheck disable=SC2317 # called indirectly, through send
mtd_dump() {
  mtd_parts=$(sed -n 's/^\(mtd[0-9][0-9]*\):.*/\1/p' "$ROOT/proc/mtd") || return 1
  if [ -z "$mtd_parts" ]; then log "no partitions in $ROOT/proc/mtd"; return 1; fi
  for dev in $mtd_parts; do
    cat "$ROOT/dev/$dev" || { log "reading $ROOT/dev/$dev failed"; return 1; }
  done
}

take_lock
log "daily backup of $HOST"
send "sysupgrade-full.$STAMP.tar.gz.p7m" config_backup
if due mtd.last "$MTD_EVERY"; then
  log "flash partitions: $(sed -n 's/^\(mtd[0-9]*\): \([0-9a-f]*\) [0-9a-f]* \(.*\)/\1=0x\2 \3/p' "$ROOT/proc/mtd" | tr '\n' ' ')"
  send "mtd-full.$STAMP.img.p7m" mtd_dump
  # the start of this run, not the end of the dump: the next one is due a cadence after it
  if [ "$SENT" -gt 0 ]; then echo "$START" > "$STATE/mtd.last"; fi
fi
finish
`
  );
}

/** The root crontab line (/etc/crontabs/root). */
export function openwrtCronLine(scriptPath: string, minute = 17, hour = 3): string {
  return `${minute} ${hour} * * * ${scriptPath}\n`;
}

/** Run once at install time: are the tools there, and which opkg packages provide them? */
export function openwrtInstallCheck(): string {
  return sh`#!/bin/sh
# deaddrop: check that this OpenWrt host has what the backup script needs (generated).
set -u
missing=""
if ! command -v openssl >/dev/null 2>&1 || ! openssl smime -help 2>&1 | grep -q -- '-encrypt'; then
  missing="$missing openssl-util"
fi
command -v curl >/dev/null 2>&1 || missing="$missing curl"
for tool in sha256sum mkfifo tee mktemp logger sysupgrade; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing busybox($tool)"
done
if [ -n "$missing" ]; then
  echo "deaddrop: missing:$missing" >&2
  echo "deaddrop: install with: opkg update && opkg install openssl-util curl ca-bundle" >&2
  exit 1
fi
echo "deaddrop: openssl (with smime), curl and the busybox tools are present"
`;
}
