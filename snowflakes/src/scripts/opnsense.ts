import { COMMON_SH } from './common.sh.js';
import { scriptHeader, type ScriptSettings } from './header.js';
import { sh, shQuote } from './sh.js';

/**
 * OPNsense: `daily` sends a ZFS stream (full on the 1st of the month or without a base
 * snapshot, else incremental from the base) and /conf; `conf` sends /conf only (the syshook).
 * Snapshots: @deaddrop-pending-T while sending, renamed to @deaddrop-base-T once a sink has the
 * whole stream; older bases and pending leftovers of killed runs are destroyed at the start.
 */
export function opnsenseScript(s: ScriptSettings & { dataset: string }): string {
  return (
    scriptHeader('opnsense', s) +
    sh`DATASET=${shQuote(s.dataset)}
DAY=\${DEADDROP_DAY:-$(date -u +%d)}
` +
    COMMON_SH +
    sh`
snapshots() {
  zfs list -H -o name -t snapshot -d 1 "$DATASET" | grep "^$DATASET@deaddrop-$1-" | sort || true
}

# A killed run leaves a pending snapshot or (between rename and destroy) two bases: the newest
# base is the one whose stream reached a sink.
tidy_snapshots() {
  for snap in $(snapshots pending); do log "destroying leftover $snap"; zfs destroy -r "$snap"; done
  bases=$(snapshots base)
  newest=$(printf '%s\n' "$bases" | tail -n 1)
  for snap in $bases; do
    if [ "$snap" != "$newest" ]; then log "destroying old base $snap"; zfs destroy -r "$snap"; fi
  done
  BASE=$newest
}

# shellcheck disable=SC2317 # called indirectly, through send
zfs_stream() {
  if [ -n "$BASE" ]; then zfs send -c -R -i "$BASE" "$1"; else zfs send -c -R "$1"; fi
}

# shellcheck disable=SC2317 # called indirectly, through send
conf_tar() { tar -cf - -C "$ROOT/" conf; }

backup_zfs() {
  tidy_snapshots
  if [ "$DAY" = 01 ]; then BASE=""; fi
  pending="$DATASET@deaddrop-pending-$STAMP"
  zfs snapshot -r "$pending"
  if [ -n "$BASE" ]; then kind=zroot-inc; else kind=zroot-full; fi
  log "$kind from \${BASE:-nothing} to $pending"
  send "$kind.$STAMP.zfs.p7m" zfs_stream "$pending"
  if [ "$SENT" -gt 0 ]; then
    zfs rename -r "$pending" "$DATASET@deaddrop-base-$STAMP"
    if [ -n "$BASE" ]; then zfs destroy -r "$BASE"; fi
    # a full on the 1st leaves the old base behind; tidy removes it now
    tidy_snapshots
    log "base is now $DATASET@deaddrop-base-$STAMP"
  else
    zfs destroy -r "$pending"
    log "no sink got the stream; base stays \${BASE:-none}"
  fi
}

MODE=\${1:-daily}
case "$MODE" in
  daily) take_lock; log "daily backup of $HOST"; backup_zfs; send "conf-full.$STAMP.tar.p7m" conf_tar ;;
  conf) take_lock; log "/conf backup of $HOST"; send "conf-full.$STAMP.tar.p7m" conf_tar ;;
  *) echo "usage: $0 [daily|conf]" >&2; exit 2 ;;
esac
finish
`
  );
}

/** configd action: `configctl deaddrop backup`; the description makes it a cron GUI choice. */
export function opnsenseConfigdAction(scriptPath: string): string {
  return `[backup]
command:${scriptPath}
parameters:daily
type:script
message:deaddrop daily backup (ZFS stream and /conf)
description:deaddrop daily backup (ZFS stream and /conf)

[conf]
command:${scriptPath}
parameters:conf
type:script
message:deaddrop /conf backup
description:deaddrop /conf backup
`;
}

/** rc.syshook.d/config hook: run after every configuration save; detached so the GUI never waits. */
export function opnsenseSyshook(scriptPath: string): string {
  return sh`#!/bin/sh
# deaddrop: back up /conf after each configuration change (generated).
(sleep 30; ${shQuote(scriptPath)} conf) </dev/null >/dev/null 2>&1 &
exit 0
`;
}
