import { COMMON_SH } from './common.sh.js';
import { scriptHeader, type ScriptSettings } from './header.js';
import { sh } from './sh.js';

/**
 * OpenWrt: `sysupgrade -b -` every run; the MTD partitions of /proc/mtd, concatenated in that
 * order, when the last dump that reached a sink was started mtdEvery seconds before this run.
 * A sink that missed that dump (STATE/mtd.lagging), or was added to the fleet since (not in
 * STATE/mtd.sinks), gets a dump of its own at the next run where it takes the sysupgrade file:
 * else its check would find no recent flash image for up to two cadences. mtdEvery null ("off"):
 * no dumps at all, for a host without MTD flash (an x86 VM).
 */
export function openwrtScript(s: ScriptSettings & { mtdEvery: number | null }): string {
  return (
    scriptHeader('openwrt', s) +
    sh`MTD_EVERY=${s.mtdEvery === null ? 'off' : String(s.mtdEvery)}
` +
    COMMON_SH +
    sh`
# config_backup: sysupgrade's archive, checked whole before a byte of it is sent. Its status says
# too little: sysupgrade exits 0 having written "Cannot save config while running from ramdisk."
# or what tar wrote before failing (tar's status is lost). The archive is small: it waits in the
# run's temp dir (tmpfs on OpenWrt, mode 0700, removed at exit); a /tmp that fills cuts it short,
# which gunzip -t catches too.
# shellcheck disable=SC2317 # called indirectly, through send
config_backup() {
  cb_file="$WORK/sysupgrade.tar.gz"
  sysupgrade -b - > "$cb_file" || {
    cb_status=$?
    log "sysupgrade -b failed (status $cb_status): no config backup"
    return 1
  }
  if [ ! -s "$cb_file" ]; then
    log "sysupgrade -b wrote nothing: no config backup"
    return 1
  fi
  if ! gunzip -t < "$cb_file" 2> "$WORK/gunzip.err"; then
    # (GNU gzip starts its message with an empty line)
    log "sysupgrade -b wrote no whole gzip archive ($(sed -n '/./{p;q;}' "$WORK/gunzip.err")): no config backup"
    return 1
  fi
  cat "$cb_file" && rm -f "$cb_file"
}

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

MTD_LAGGING="$STATE/mtd.lagging"
MTD_SINKS="$STATE/mtd.sinks"

# mtd_behind: the sinks without the last dump: listed in mtd.lagging, or not in mtd.sinks (the
# sinks of the last dump). None known before the first dump that wrote mtd.sinks.
mtd_behind() {
  if [ ! -e "$MTD_SINKS" ]; then return 0; fi
  for mb_url in $SINKS; do
    if ! grep -qxF "$mb_url" "$MTD_SINKS" || grep -qxF "$mb_url" "$MTD_LAGGING" 2>/dev/null; then echo "$mb_url"; fi
  done
}

# note_mtd URLS: after a dump reached a sink, URLS are the sinks still without one. Each file is
# written whole under a temp name; mtd.lagging is removed once no sink is behind. mtd.sinks only
# once mtd.lagging is written: a sink behind must never pass for one with the dump.
note_mtd() {
  nm_lag=''
  for nm_url in $1; do nm_lag="$nm_lag$nm_url
"; done
  if [ -n "$nm_lag" ]; then
    printf '%s' "$nm_lag" | save_state mtd.lagging "sinks without this dump may get none of their own" || return 0
  else
    rm -f "$MTD_LAGGING"
  fi
  for nm_url in $SINKS; do echo "$nm_url"; done | save_state mtd.sinks "a sink added since may get no dump of its own" || :
}

# no_mtd: true, and logged in one line, when this host has no MTD flash: no /proc/mtd (an x86
# VM) or one listing no partition. The dump fails (nothing is sent), as the host was meant to have
# flash; the line says how to turn dumps off where it never has. One that cannot be read is no
# answer: mtd_dump fails reading it.
no_mtd() {
  if [ -e "$ROOT/proc/mtd" ]; then
    nm_parts=$(sed -n 's/^\(mtd[0-9][0-9]*\):.*/\1/p' "$ROOT/proc/mtd" 2>/dev/null) || return 1
    if [ -n "$nm_parts" ]; then return 1; fi
    nm_why="$ROOT/proc/mtd lists no partition"
  else
    nm_why="no $ROOT/proc/mtd"
  fi
  log "no MTD flash ($nm_why): no flash dump; for a host without one, set its mtdEvery to \"off\" in the fleet file and regenerate this script"
}

# dump_to URLS: a flash dump to those sinks; SENT and MISSED as send_to sets them.
dump_to() {
  if no_mtd; then
    FAILED=1 SENT=0 MISSED=$1
    return 0
  fi
  log "flash partitions: $(sed -n 's/^\(mtd[0-9]*\): \([0-9a-f]*\) [0-9a-f]* \(.*\)/\1=0x\2 \3/p' "$ROOT/proc/mtd" | tr '\n' ' ')"
  send_to "$1" "mtd-full.$STAMP.img.p7m" mtd_dump
}

take_lock
log "daily backup of $HOST"
send "sysupgrade-full.$STAMP.tar.gz.p7m" config_backup
if [ "$MTD_EVERY" = off ]; then
  # (no dumps, and no catch-up of one a sink lacks)
  :
elif due mtd.last "$MTD_EVERY"; then
  dump_to "$SINKS"
  # the start of this run, not the end of the dump: the next one is due a cadence after it
  if [ "$SENT" -gt 0 ]; then
    echo "$START" | save_state mtd.last "the next run dumps the flash again" || :
    note_mtd "$MISSED"
  fi
else
  # catch-up: only the sinks behind that took this run's file (one that did not is still down).
  # A file that failed on the host (sysupgrade -b or openssl) was taken by none, down or not:
  # then every sink behind gets its dump, and one still down fails it and stays behind.
  behind=$(mtd_behind) catch='' stay='' down=" $MISSED "
  if [ -n "$UNSENT" ]; then down=' '; fi
  for url in $behind; do
    case $down in
      *" $url "*)
        stay="$stay $url"
        log "sink $(sink_index "$url") lacks the last flash dump and missed this run's file: it stays behind"
        ;;
      *)
        catch="$catch $url"
        log "sink $(sink_index "$url") lacks the last flash dump: a dump for it"
        ;;
    esac
  done
  if [ -n "$catch" ]; then
    catch_failed=$FAILED
    dump_to "$catch"
    note_mtd "$stay $MISSED"
    # A catch-up dump that reached none of them (the flash unreadable, openssl, the sinks
    # refusing it) leaves them behind, listed as before. While a sink not behind has the last
    # dump, the host still has a recent flash image: degraded (exit 4), not failed. With every
    # sink behind, none has one: failed, as a weekly dump that reaches none.
    if [ "$SENT" -eq 0 ]; then
      holders=''
      for url in $SINKS; do
        case "$stay$catch " in *" $url "*) ;; *) holders="$holders $(sink_index "$url")" ;; esac
      done
      if [ -n "$holders" ]; then
        FAILED=$catch_failed DEGRADED=1
        case $holders in *' '*' '*) holders="sinks$holders have it" ;; *) holders="sink$holders has it" ;; esac
        for url in $catch; do log "sink $(sink_index "$url") still lacks the last flash dump ($holders): it stays behind"; done
      fi
    fi
  fi
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
for tool in sha256sum mkfifo tee mktemp logger gunzip sysupgrade; do
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
