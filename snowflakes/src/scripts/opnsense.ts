import { COMMON_SH } from './common.sh.js';
import { scriptHeader, type ScriptSettings } from './header.js';
import { sh, shQuote } from './sh.js';

/**
 * Backstop to the 1st-of-the-month full: one is sent when the last full that reached a sink
 * started this long ago. A month and a day: a failed (or missed) 1st is caught up the day after
 * at worst, and a normal month never gets two fulls. The checker's maxFullAge is 37 days.
 */
export const OPNSENSE_FULL_EVERY = 31 * 86400;

/**
 * OPNsense: `daily` sends a ZFS stream and /conf; `conf` sends /conf only (the syshook). The stream
 * is a full on the 1st of the month (UTC; once: not when full.last is from that day), when the last full that reached a sink started
 * OPNSENSE_FULL_EVERY seconds before this run (or none is recorded), or without a base snapshot; else an
 * incremental from the base, named zroot-inc.T0.to.T (T0: the stamp of the stream that made the base).
 * Snapshots: @deaddrop-pending-T while sending, renamed to @deaddrop-base-T once a sink has the
 * whole stream; older bases and pending leftovers of killed runs are destroyed at the start.
 * The base advancing past a sink that missed the stream leaves a gap in that sink's chain: such
 * sinks are listed in STATE/zfs.lagging, and the first run where one of them answers a probe
 * sends a full (to every sink: one stream, one snapshot).
 */
export function opnsenseScript(s: ScriptSettings & { dataset: string }): string {
  return (
    scriptHeader('opnsense', s) +
    sh`DATASET=${shQuote(s.dataset)}
FULL_EVERY=${String(OPNSENSE_FULL_EVERY)}
` +
    COMMON_SH +
    sh`
snapshots() {
  zfs list -H -o name -t snapshot -d 1 "$DATASET" | grep "^$DATASET@deaddrop-$1-" | sort || true
}

SENT_MARK="$STATE/zfs.sent"

# A killed run leaves a pending snapshot or (between rename and destroy) two bases. zfs.sent names
# the pending snapshot whose stream last reached a sink: still pending (the run was stopped
# before the rename), it becomes the base (destroying it would leave every sink with a stream
# that no later incremental follows); renamed, its base is the one kept. Without it, the newest
# base by name.
tidy_snapshots() {
  sent=$(cat "$SENT_MARK" 2>/dev/null || true)
  sent_base="$DATASET@deaddrop-base-\${sent##*@deaddrop-pending-}"
  if [ -n "$sent" ] && snapshots pending | grep -qxF "$sent"; then
    log "the last run stopped after $sent reached a sink: it is the base"
    zfs rename -r "$sent" "$sent_base"
  fi
  for snap in $(snapshots pending); do log "destroying leftover $snap"; zfs destroy -r "$snap"; done
  if [ -z "$sent" ] || ! snapshots base | grep -qxF "$sent_base"; then
    sent_base=$(snapshots base | tail -n 1)
  fi
  rm -f "$SENT_MARK" "$LAGGING.was"
  keep_base "$sent_base"
}

# keep_base SNAPSHOT: it is the base (none when empty); every other base is destroyed by name,
# never "all but the newest": a snapshot's name is the clock's word, which can be wrong.
keep_base() {
  for snap in $(snapshots base); do
    if [ "$snap" != "$1" ]; then log "destroying old base $snap"; zfs destroy -r "$snap"; fi
  done
  BASE=$1
}

LAGGING="$STATE/zfs.lagging"

# sink_answers URL INDEX: a PROPFIND of the host directory (the sinks allow PUT and PROPFIND
# only) gets an answer: 207, or 404 from a sink rebuilt empty, which needs a full all the more.
sink_answers() {
  sa_code=$(sink_curl "$2" run -o /dev/null -w '%{http_code}' --max-time 60 -X PROPFIND -H 'Depth: 0' "$1" </dev/null || true)
  case $sa_code in 2?? | 404) return 0 ;; *) return 1 ;; esac
}

# REFUSED_RETRY: a sink that answered a full with an HTTP error (full, body too large) is sent
# the next catch-up full this long after (less 5 minutes), not every day: each one it refuses
# would go to every other sink too.
REFUSED_RETRY=$((7 * 86400))

# catch_up: zfs.lagging lists "URL FILE [AT CODE]" per sink whose chain has a gap (FILE: the
# first stream it missed), so no later incremental restores there; AT (epoch) and CODE when it
# refused FILE, a full. Sets why when one of them answers: a full closes the gap. Else
# incrementals go on, not a full every day while a sink is down, nor while it refuses uploads
# (until REFUSED_RETRY after the refusal; one dated in the future, a clock that was ahead, is due).
catch_up() {
  while read -r cu_url cu_file cu_at cu_code; do
    cu_i=$(sink_index "$cu_url")
    if [ "$cu_i" -eq 0 ]; then continue; fi
    if [ "$cu_file" = new-sink ]; then cu_what="is new"; else cu_what="missed $cu_file"; fi
    case \${cu_at:-x} in *[!0-9]*) ;; *)
      cu_wait=$((cu_at + REFUSED_RETRY - 300 - START))
      if [ "$cu_at" -le "$START" ] && [ "$cu_wait" -gt 0 ]; then
        log "sink $cu_i ($cu_url) refuses uploads (HTTP \${cu_code:-error} to $cu_file): catching it up with a full again in $(((cu_wait + 86399) / 86400)) days (see the sink's disk and body size limit)"
        continue
      fi
      ;;
    esac
    if sink_answers "$cu_url" "$cu_i"; then
      why="sink $cu_i $cu_what: catching it up with a full"
      return 0
    fi
    log "sink $cu_i ($cu_url) $cu_what and does not answer: it stays behind until it does"
  done < "$LAGGING"
}

SINKS_SEEN="$STATE/zfs.sinks"

# note_new_sinks: a sink added to the fleet since the last stream (zfs.sinks) has none of the
# chain, so it is listed in zfs.lagging as new-sink: the next full it answers for reaches it.
note_new_sinks() {
  if [ ! -e "$SINKS_SEEN" ]; then return 0; fi
  for ns_url in $SINKS; do
    if grep -qxF "$ns_url" "$SINKS_SEEN"; then continue; fi
    if [ -e "$LAGGING" ] && grep -qF "$ns_url " "$LAGGING"; then continue; fi
    { cat "$LAGGING" 2>/dev/null || true; echo "$ns_url new-sink"; } > "$LAGGING.new"
    mv "$LAGGING.new" "$LAGGING"
    log "sink $(sink_index "$ns_url") is new: it has none of the chain"
  done
}

# note_sinks: the sinks this stream was sent to (whether or not each took it: zfs.lagging says).
note_sinks() {
  for ns_url in $SINKS; do echo "$ns_url"; done > "$SINKS_SEEN.new"
  mv "$SINKS_SEEN.new" "$SINKS_SEEN"
}

# stored_first [URL] (send_to's SENT_HOOK): a sink has the whole stream, and its .sha256 PUTs
# start (''), or the first sink (URL) stored the .sha256. A .sha256 PUT may store it and the run
# die (a power cut) before send_to returns: such a run must leave the pending snapshot kept
# (zfs.sent), else the next run would destroy it and send an incremental from the old base: two
# streams from one base on that sink. Until send_to ends, every sink but URL counts as missing the
# stream in zfs.lagging (the list before is kept aside in zfs.lagging.was): a run killed meanwhile
# is followed by a catch-up full, never a gap on a sink that got no .sha256.
# shellcheck disable=SC2317 # called indirectly, through send_to
stored_first() {
  echo "$pending" > "$SENT_MARK.new" && mv "$SENT_MARK.new" "$SENT_MARK"
  if [ -z "$1" ]; then
    rm -f "$LAGGING.was"
    if [ -e "$LAGGING" ]; then cp "$LAGGING" "$LAGGING.was"; fi
  elif [ "$kind" = zroot-full ]; then echo "$START" > "$STATE/full.last"; fi
  sf_missed=$MISSED MISSED=
  for sf_url in $SINKS; do if [ "$sf_url" != "$1" ]; then MISSED="$MISSED $sf_url"; fi; done
  note_lagging "$kind" "$zfile" quiet
  MISSED=$sf_missed
}

# note_lagging KIND FILE [quiet]: after FILE reached a sink, zfs.lagging lists the sinks that missed it
# and, after an incremental, those still behind (a full restarts every chain that has it).
# Written whole under a temp name; removed once no sink is behind.
note_lagging() {
  : > "$LAGGING.new"
  if [ "$1" = zroot-inc ] && [ -e "$LAGGING" ]; then
    while read -r nl_url nl_rest; do
      if [ "$(sink_index "$nl_url")" -gt 0 ]; then echo "$nl_url $nl_rest" >> "$LAGGING.new"; fi
    done < "$LAGGING"
  fi
  for nl_missed in $MISSED; do
    nl_seen=
    while read -r nl_url _; do
      if [ "$nl_url" = "$nl_missed" ]; then nl_seen=1; fi
    done < "$LAGGING.new"
    if [ -z "$nl_seen" ]; then
      # a full the sink refused (an HTTP error, not no answer): dated, for catch_up's back-off
      nl_code=
      for nl_r in $REFUSED; do
        if [ "\${nl_r%=*}" = "$nl_missed" ]; then nl_code=\${nl_r##*=}; fi
      done
      if [ "$1" = zroot-full ] && [ -n "$nl_code" ]; then
        echo "$nl_missed $2 $START $nl_code" >> "$LAGGING.new"
        if [ -z "\${3:-}" ]; then log "sink $(sink_index "$nl_missed") refused $2 (HTTP $nl_code): it refuses uploads; the next full for it in 7 days (or on the 1st), incrementals meanwhile"; fi
      else
        echo "$nl_missed $2" >> "$LAGGING.new"
      fi
      if [ -z "\${3:-}" ]; then log "sink $(sink_index "$nl_missed") missed $2: no later incremental restores there until a full reaches it"; fi
    fi
  done
  if [ -s "$LAGGING.new" ]; then mv "$LAGGING.new" "$LAGGING"; else rm -f "$LAGGING.new" "$LAGGING"; fi
}

# shellcheck disable=SC2317 # called indirectly, through send
zfs_stream() {
  if [ -n "$BASE" ]; then zfs send -c -R -i "$BASE" "$1"; else zfs send -c -R "$1"; fi
}

# shellcheck disable=SC2317 # called indirectly, through send
conf_tar() { tar -cf - -C "$ROOT/" conf; }

# full_today: the last full that reached a sink (full.last) started on the UTC day of this run,
# so a second run on the 1st (cron every few hours, or one by hand) sends an incremental.
full_today() {
  ft_last=$(cat "$STATE/full.last" 2>/dev/null || true)
  case $ft_last in '' | *[!0-9]*) return 1 ;; esac
  [ $((ft_last / 86400)) -eq $((START / 86400)) ]
}

backup_zfs() {
  tidy_snapshots
  if [ -n "$BASE" ]; then note_new_sinks; fi
  # the day of the month of STAMP (YYYYMMDDTHHMMSSZ)
  day=\${STAMP#??????}
  day=\${DEADDROP_DAY:-\${day%"\${day#??}"}}
  why=
  if [ -z "$BASE" ]; then why="no base snapshot"
  elif [ "$day" = 01 ] && ! full_today; then why="1st of the month"
  elif due full.last "$FULL_EVERY"; then
    if [ -z "$due_last" ]; then why="no full recorded"
    elif [ "$due_last" -gt "$START" ]; then why="the last full is dated after this run"
    else why="last full started $(((START - due_last) / 86400)) days ago"; fi
  elif [ -e "$LAGGING" ]; then catch_up
  fi
  kept=$BASE
  # an incremental's name links it to its base: zroot-inc.T0.to.T, T0 the stamp of the stream
  # that made the base (pending-T0 renamed base-T0), so a sink missing a link shows a gap
  if [ -n "$why" ]; then
    BASE="" kind=zroot-full zfile="zroot-full.$STAMP.zfs.p7m"
  else
    kind=zroot-inc zfile="zroot-inc.\${BASE##*@deaddrop-base-}.to.$STAMP.zfs.p7m"
  fi
  pending="$DATASET@deaddrop-pending-$STAMP"
  zfs snapshot -r "$pending"
  log "$kind from \${BASE:-nothing} to $pending\${why:+ ($why)}"
  SENT_HOOK=stored_first
  send "$zfile" zfs_stream "$pending"
  SENT_HOOK=
  if [ "$SENT" -gt 0 ]; then
    # the list as it was before stored_first's provisional one
    if [ -e "$LAGGING.was" ]; then mv "$LAGGING.was" "$LAGGING"; else rm -f "$LAGGING"; fi
    echo "$pending" > "$SENT_MARK.new" && mv "$SENT_MARK.new" "$SENT_MARK"
    # the start of this run: the age rule counts from it
    if [ "$kind" = zroot-full ]; then echo "$START" > "$STATE/full.last"; fi
    # before the rename: a run killed in between still has it written (zfs.sent renames it)
    note_lagging "$kind" "$zfile"
    note_sinks
    zfs rename -r "$pending" "$DATASET@deaddrop-base-$STAMP"
    keep_base "$DATASET@deaddrop-base-$STAMP"
    log "base is now $BASE"
  else
    zfs destroy -r "$pending"
    log "no sink got the stream; base stays \${kept:-none}"
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

/**
 * rc.syshook.d/config hook: run after every configuration save; detached so the GUI never
 * waits. A save during the daily run finds the lock held (exit 3): without a retry that
 * change would wait a day for the next daily run's /conf.
 */
export function opnsenseSyshook(scriptPath: string): string {
  return sh`#!/bin/sh
# deaddrop: back up /conf after each configuration change (generated). While another run holds
# the lock (exit 3), try again every 30 s, for up to an hour. (DEADDROP_HOOK_DELAY: tests only.)
(
  delay=\${DEADDROP_HOOK_DELAY:-30}
  sleep "$delay"
  tries=0
  while :; do
    ${shQuote(scriptPath)} conf
    if [ $? -ne 3 ] || [ "$tries" -ge 120 ]; then break; fi
    tries=$((tries + 1))
    sleep "$delay"
  done
) </dev/null >/dev/null 2>&1 &
exit 0
`;
}
