/**
 * The shell functions both snowflake scripts share: logging, the lock, the time stamp, the
 * cadence state, and sending one encrypted stream to every sink at once. POSIX sh only
 * (busybox ash, dash, FreeBSD sh).
 */
import { sh } from './sh.js';

export const COMMON_SH = sh`
log() { logger -t "$TAG" -- "$*" >/dev/null 2>&1 || true; printf '%s: %s\n' "$TAG" "$*" >&2; }

# end_run STATUS MESSAGE: the run's outcome, logged, as its exit status.
end_run() {
  OUTCOME=$2
  log "$2"
  exit "$1"
}

# on_exit STATUS (the EXIT trap): a run that ends non-zero without its outcome logged (set -e on
# a full /tmp, say) says so in syslog, as cron mails nothing; then the temp dir and lock go.
# shellcheck disable=SC2317 # called by the EXIT trap
on_exit() {
  # (a signal now would end the run here, with its lock left)
  trap '' INT TERM HUP
  # nothing the run started outlives its lock (a slow zfs send would overlap the next run)
  kill_run
  if [ "$1" -ne 0 ] && [ -z "$OUTCOME" ]; then log "failed (status $1)"; fi
  rm -rf "$WORK"
  # a lock made but not yet in place when a signal came
  if [ -n "\${lock_new:-}" ]; then rm -rf "$lock_new"; fi
  release_lock
  # a shell error (dash ends a failed redirection with 2, the usage status) is a failed run: 1
  if [ "$1" -ne 0 ] && [ "$1" -ne 130 ] && [ -z "$OUTCOME" ]; then exit 1; fi
}

# The lock is the directory $LOCK holding the owner's pid and a token unique to the run. It is
# made whole under a temp name and renamed into place, so no run ever sees it without its pid.
# rename() never replaces a directory that has files in it; mv moves into an existing directory
# instead, so the token (not mv's status) says who won. A lock whose pid is dead, or is no run of
# this script (reused since its run died), is taken over; one without a readable pid (damaged,
# or half made by an older script) only after an hour.
take_lock() {
  trap 'on_exit $?' EXIT
  trap on_signal INT TERM HUP
  check_netrc
  mkdir -p "$STATE" "\${LOCK%/*}"
  # WORK's path goes unquoted into word lists (the fifos, the recipient files): a space or a glob
  # character in it would split it, and the run would hang on a fifo that no process opens
  case \${TMPDIR:-/tmp} in *[!A-Za-z0-9/._+-]*)
    log "TMPDIR ($TMPDIR) has characters other than letters, digits and /._+-: using /tmp instead"
    TMPDIR=/tmp
    ;;
  esac
  WORK=$(mktemp -d "\${TMPDIR:-/tmp}/deaddrop.XXXXXX")
  TOKEN="$$ \${WORK##*/}"
  if ! try_lock; then
    old=$(cat "$LOCK/pid" 2>/dev/null || true)
    if [ -z "$old" ] && [ ! -e "$LOCK" ]; then
      # released by its owner meanwhile
      if ! try_lock; then end_run 3 "another run holds $LOCK"; fi
    # (a lock with our own pid is from before a reboot)
    elif [ -n "$old" ] && [ "$old" != $$ ] && kill -0 "$old" 2>/dev/null && ! pid_reused "$old"; then
      end_run 3 "another run (pid $old) holds $LOCK"
    elif [ -z "$old" ] && ! lock_is_old; then
      end_run 3 "$LOCK has no readable pid and is less than an hour old: taken as busy"
    else
      log "taking over the stale lock of pid \${old:-unknown}"
      # Move it aside under a new name, then check that it is the lock we judged stale: one that
      # another run made meanwhile has a live pid in it, and is put back.
      aside=$(mktemp -d "\${LOCK%/*}/.stale.XXXXXX")
      if mv "$LOCK" "$aside/lock" 2>/dev/null && [ "$(cat "$aside/lock/pid" 2>/dev/null || true)" != "$old" ]; then
        mv "$aside/lock" "$LOCK" 2>/dev/null || true
        rmdir "$aside" 2>/dev/null || true
        end_run 3 "another run took over $LOCK first"
      fi
      rm -rf "$aside"
      if ! try_lock; then end_run 3 "another run took over $LOCK first"; fi
    fi
  fi
  write_embedded_files
  take_stamp
}

# check_netrc: the sinks' credentials are in NETRC (curl's --netrc-file), for root alone, as the
# Linux client and ssh insist. Without one every sink answers 401 and each file "reached no sink";
# one that group or others can read (written under umask 022) hands the password to every daemon
# of the host. Either is a configuration error, said as such: exit 2, nothing sent.
check_netrc() {
  cn_ls=$(ls -lnL "$NETRC" 2>/dev/null) || cn_ls=
  case $cn_ls in
    '') end_run 2 "cannot read the netrc file $NETRC: the sinks' credentials go there (mode 0600)" ;;
    -???------*) ;;
    *) end_run 2 "$NETRC is readable by others (\${cn_ls%% *}): chmod 600 $NETRC, and change the password if it may have been read" ;;
  esac
}

# pid_reused PID: true when PID's command line does not name this script: a lock whose run died
# without releasing it (killed, a crash) whose pid another program has since. One whose command
# line cannot be read counts as a run.
pid_reused() {
  pr_cmd=$(command_line "$1") || return 1
  pr_cmd=\${pr_cmd% }
  case $pr_cmd in *"\${0##*/}"*) return 1 ;; esac
  log "pid $1 of $LOCK is no run of \${0##*/} (it runs: \${pr_cmd:-nothing}): the lock is stale"
}

# command_line PID: from /proc on Linux (NULs between the arguments), else ps (FreeBSD).
command_line() {
  if [ -r "/proc/$$/cmdline" ]; then
    { tr '\000' ' ' < "/proc/$1/cmdline"; } 2>/dev/null
  else
    ps -ww -o command= -p "$1" 2>/dev/null
  fi
}

# try_lock: a new directory with our pid and token, renamed to $LOCK; true when $LOCK is ours.
try_lock() {
  # (not even trying keeps the mtime of a lock without pid: its age)
  if [ -e "$LOCK" ]; then return 1; fi
  # (a lock we cannot write is an error, not "locked": exit 3 every night would hide it)
  lock_new=$(mktemp -d "\${LOCK%/*}/.lock.XXXXXX") || end_run 1 "cannot write the lock in \${LOCK%/*}"
  if ! { echo $$ > "$lock_new/pid" && echo "$TOKEN" > "$lock_new/token"; } 2>/dev/null; then
    rm -rf "$lock_new"
    end_run 1 "cannot write the lock in \${LOCK%/*} (full?)"
  fi
  mv "$lock_new" "$LOCK" 2>/dev/null || true
  # when $LOCK existed, mv put the new directory inside it
  rm -rf "$lock_new" "$LOCK/.lock.\${lock_new##*/.lock.}" 2>/dev/null || true
  [ "$(cat "$LOCK/token" 2>/dev/null || true)" = "$TOKEN" ]
}

# shellcheck disable=SC2317 # called by the EXIT trap
release_lock() {
  # (no token yet: the lock, if any, is another run's)
  if [ -n "$TOKEN" ] && [ "$(cat "$LOCK/token" 2>/dev/null || true)" = "$TOKEN" ]; then rm -rf "$LOCK"; fi
}

lock_is_old() {
  lock_mtime=$(date -r "$LOCK" +%s 2>/dev/null || true)
  case $lock_mtime in '' | *[!0-9]*) return 1 ;; esac
  [ $(($(date -u +%s) - lock_mtime)) -ge 3600 ]
}

# take_stamp: STAMP names this run's files (one-second resolution) and START is the same
# instant in epoch seconds. Taken under the lock and never the previous run's (STATE/stamp.last):
# two runs in one second would otherwise name a file twice, and the sinks refuse the second.
# One before it (a clock set back) is refused: restores and the checker take the newest file by
# name, and such a name would sort before what it follows.
take_stamp() {
  stamp_last=$(cat "$STATE/stamp.last" 2>/dev/null || true)
  while :; do
    stamp_now=$(date -u '+%s %Y%m%dT%H%M%SZ')
    START=\${stamp_now%% *}
    STAMP=\${DEADDROP_STAMP:-\${stamp_now#* }}
    if [ -n "\${DEADDROP_STAMP:-}" ]; then break; fi
    if stamp_before "$STAMP" "$stamp_last"; then
      end_run 1 "the clock reads $STAMP, before the last run's $stamp_last: not run (set the clock; names must not go back in time; if the clock is right, the last run's was ahead: remove $STATE/stamp.last; the other *.last files there, dated from the clock that was ahead, are taken as due)"
    fi
    if [ "$STAMP" != "$stamp_last" ]; then break; fi
    sleep 1
  done
  echo "$STAMP" | save_state stamp.last "the next run cannot check that the clock has not gone back" || :
}

# save_state NAME WHY: stdin becomes STATE/NAME, written whole under a temp name and renamed, or
# false, the file left as it was and one line logged (WHY: what the next run lacks). On OpenWrt the
# state is on flash, where a full overlay takes no write (nor truncates a file in place): the
# backup matters more than its bookkeeping, so the run goes on without it.
save_state() {
  if { cat > "$STATE/$1.new" && mv "$STATE/$1.new" "$STATE/$1"; } 2>/dev/null; then return 0; fi
  rm -f "$STATE/$1.new" 2>/dev/null || :
  log "cannot write $STATE/$1 (flash full?): $2"
  return 1
}

# stamp_before A B: stamp A (YYYYMMDDTHHMMSSZ) is earlier than B; false when B is not a stamp.
# Date and time compared apart: 14 digits overflow a 32-bit shell's arithmetic.
stamp_before() {
  case $2 in [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z) ;; *) return 1 ;; esac
  sb_ad=\${1%T*} sb_bd=\${2%T*} sb_at=\${1#*T} sb_bt=\${2#*T}
  sb_at=\${sb_at%Z} sb_bt=\${sb_bt%Z}
  [ "$sb_ad" -lt "$sb_bd" ] || { [ "$sb_ad" -eq "$sb_bd" ] && [ "$sb_at" -lt "$sb_bt" ]; }
}

# due FILE SECONDS: FILE (in STATE) holds the START of the last run whose dump reached a sink.
# Due when it is missing or this run started SECONDS after it, less 5 minutes so that the cron
# run a cadence later is never a few seconds short. One after this run's START (written while
# the clock was ahead) is due too, and logged: else no dump would be made until that time.
due() {
  due_last=$(cat "$STATE/$1" 2>/dev/null || true)
  case $due_last in '' | *[!0-9]*) due_last= && return 0 ;; esac
  if [ "$due_last" -gt "$START" ]; then
    log "$STATE/$1 ($due_last) is after this run's start ($START): the clock was ahead when it was written; due now"
    return 0
  fi
  [ $((START - due_last)) -ge $(($2 - 300)) ]
}

hash_stdin() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1; else sha256 -q; fi
}

# sink_curl SINK_INDEX exec|run CURL_ARGS...: curl as every request to a sink runs it. The
# password comes from the netrc file, never argv; a sink with its own CA has it embedded as
# ca<index>.pem. A sink that stalls (under 1 byte/s for 5 minutes) is dropped so tee keeps
# feeding the others.
sink_curl() {
  sc_ca="$WORK/ca$1.pem" sc_exec=$2
  shift 2
  set -- -sS --connect-timeout 20 --speed-limit 1 --speed-time 300 --netrc-file "$NETRC" "$@"
  if [ -e "$sc_ca" ]; then set -- --cacert "$sc_ca" "$@"; fi
  if [ "$sc_exec" = exec ]; then exec curl "$@"; fi
  curl "$@"
}

# curl_put URL SINK_INDEX FILE [exec]: PUT FILE (- = stdin) once, writing the HTTP status to
# stdout (000: no answer; put_stored judges it). put_file retries a regular file; a pipe never
# is: curl cannot rewind one, and would PUT what is left of it (usually nothing) as the file.
curl_put() {
  put_url=$1 put_i=$2 put_file=$3 put_exec=\${4:-run}
  sink_curl "$put_i" "$put_exec" -f -o /dev/null -w '%{http_code}' -T "$put_file" "$put_url"
}

# put_stored STATUS CODE URL: a PUT stored its file only when curl exited 0 with a 2xx. curl -f
# fails on >= 400 only: a redirect (3xx), which curl does not follow with the body, stored nothing.
put_stored() {
  if [ "$1" -ne 0 ]; then return 1; fi
  case $2 in 2??) return 0 ;; esac
  log "$3: the sink answered HTTP \${2:-nothing}, not 2xx: not stored"
  return 1
}

# put_file URL SINK_INDEX FILE: PUT a small file, up to 3 times, 1 s apart, while the answer is
# none (connection cut, timeout), 408, 429 or 5xx but 507; true when the sink stored it.
# An attempt without an answer, or with a 5xx (a gateway's, after the sink stored it), may have
# stored the file: the sink then refuses the retry as existing (409; nginx may reset the
# connection instead). Such a refusal is judged by a PROPFIND of the name: the sink forbids GET,
# so its size is all that can be checked, and it is enough here: the name is new to this run
# (it carries this run's stamp, and the sink stored the file it goes with from this run's PUT),
# only this host writes its directory, and the sink publishes only whole uploads, so a file of
# that name and size there is this run's own. A 409 to a first attempt stays a miss.
put_file() {
  pf_try=1 pf_maybe=
  while :; do
    pf_status=0
    pf_code=$(curl_put "$1" "$2" "$3") || pf_status=$?
    if [ "$pf_status" -eq 0 ]; then
      if put_stored 0 "$pf_code" "$1"; then return 0; fi
      return 1
    fi
    # (no answer: 000, or only the 100 Continue to curl's Expect before the connection went)
    case $pf_code in 000 | 1?? | 409)
      if [ -n "$pf_maybe" ]; then
        pf_holds=0
        sink_holds "$1" "$2" "$3" || pf_holds=$?
        if [ "$pf_holds" -eq 0 ]; then
          log "$1: the sink has it whole (PROPFIND), stored by an attempt whose answer was lost"
          return 0
        fi
        if [ "$pf_code" = 409 ] && [ "$pf_holds" -eq 2 ]; then
          log "$1: the sink refused it as existing and its PROPFIND failed: size unknown, not counted as stored"
        elif [ "$pf_code" = 409 ]; then
          log "$1: the sink refused it as existing but lists no file of its size: not stored"
        fi
      fi
      ;;
    esac
    case $pf_code in
      000 | 1?? | 5??) if [ "$pf_code" != 507 ]; then pf_maybe=1; else break; fi ;;
      408 | 429) ;;
      *) break ;;
    esac
    if [ "$pf_try" -ge 3 ]; then break; fi
    pf_try=$((pf_try + 1))
    sleep 1
  done
  put_stored "$pf_status" "$pf_code" "$1"
}

# sink_holds URL SINK_INDEX FILE: the sink lists URL as a file of FILE's size (PROPFIND, Depth:
# 0, with the netrc, CA and timeouts of the PUTs); 1: it does not, 2: the PROPFIND failed.
sink_holds() {
  hold_size=$(($(wc -c < "$3")))
  hold_xml=$(sink_curl "$2" run -f --max-time 60 -X PROPFIND -H 'Depth: 0' "$1" < /dev/null) || return 2
  hold_len=$(printf '%s\n' "$hold_xml" | sed -n 's/.*getcontentlength[^>]*>\([0-9][0-9]*\)<.*/\1/p' | head -n 1)
  [ "$hold_len" = "$hold_size" ]
}

# abort_send DIR WHAT: the producer or openssl failed while the stream to the curls is still open
# (the caller holds it). Kill the curls before it closes: a PUT cut off before its last chunk is
# dropped by the sink, where letting it end would store a cut-short, well-formed file.
abort_send() {
  echo "$2" >> "$1/failed"
  abort_wait=30
  for abort_i in $send_is; do
    # the pid is written once tee has opened the fifo: moments after the start
    while [ ! -s "$1/curl$abort_i" ] && [ "$abort_wait" -gt 0 ]; do sleep 1; abort_wait=$((abort_wait - 1)); done
    abort_pid=$(cat "$1/curl$abort_i" 2>/dev/null || true)
    case $abort_pid in '' | *[!0-9]*) ;; *) kill "$abort_pid" 2>/dev/null || true ;; esac
  done
}

# on_signal (the INT/TERM/HUP trap): the run is stopped. Once a sink has the whole file being sent
# (okN), ending there would leave it without its .sha256, which the sink's check flags: the
# uploads still running are cut off instead (the sinks drop them), send_to sends the .sha256
# where the file is whole, and the run ends 130 before its next file. Before any sink has it,
# or at a second signal, the run ends at once.
# shellcheck disable=SC2317 # called by the INT/TERM/HUP trap
on_signal() {
  if [ -z "$STOPPING" ] && [ -n "$SEND_DIR" ]; then
    os_ok='' os_cut=''
    for os_i in $send_is; do
      if [ -e "$SEND_DIR/ok$os_i" ]; then os_ok="$os_ok $os_i"; else os_cut="$os_cut $os_i"; fi
    done
    if [ -n "$os_ok" ]; then
      STOPPING=1
      for os_i in $os_cut; do
        os_pid=$(cat "$SEND_DIR/curl$os_i" 2>/dev/null || true)
        case $os_pid in '' | *[!0-9]*) ;; *) kill "$os_pid" 2>/dev/null || true ;; esac
      done
      log "stopped while sending \${SEND_DIR##*/}: whole on sink(s)$os_ok, which get its .sha256\${os_cut:+; the upload to sink(s)$os_cut is cut off}"
      return 0
    fi
  fi
  # (on_exit ends what the run started)
  trap '' INT TERM HUP
  exit 130
}

# procs: PROCS lists every process as PID:PPID:STATE, from /proc on Linux (builtins only: the
# search starts none of its own), else from ps (FreeBSD).
# shellcheck disable=SC2317 # called by the EXIT trap
procs() {
  rp_all=''
  if [ -r "/proc/$$/stat" ]; then
    for rp_f in /proc/[0-9]*/stat; do
      # "PID (COMM) STATE PPID ...", COMM being any text
      { read -r rp_line < "$rp_f"; } 2>/dev/null || continue
      rp_rest=\${rp_line##*) }
      rp_ppid=\${rp_rest#* }
      rp_all="$rp_all \${rp_line%% *}:\${rp_ppid%% *}:\${rp_rest%% *}"
    done
  else
    ps -ax -o pid= -o ppid= -o state= > "$WORK/ps" 2>/dev/null &
    rp_ps=$!
    wait "$rp_ps" || true
    while read -r rp_pid rp_ppid rp_state; do
      if [ "$rp_pid" != "$rp_ps" ]; then rp_all="$rp_all $rp_pid:$rp_ppid:$rp_state"; fi
    done < "$WORK/ps"
  fi
  PROCS=$rp_all
}

# run_procs: RUN_PIDS lists the live processes this run started: the shell's descendants,
# zombies left out.
# shellcheck disable=SC2317 # called by the EXIT trap
run_procs() {
  procs
  RUN_PIDS='' rp_tree=" $$ " rp_more=1
  while [ -n "$rp_more" ]; do
    rp_more=''
    for rp_e in $PROCS; do
      rp_pid=\${rp_e%%:*} rp_e=\${rp_e#*:}
      case $rp_tree in *" $rp_pid "*) continue ;; esac
      case $rp_tree in *" \${rp_e%%:*} "*) ;; *) continue ;; esac
      rp_tree="$rp_tree$rp_pid " rp_more=1
      case \${rp_e#*:} in Z* | X*) ;; *) RUN_PIDS="$RUN_PIDS $rp_pid" ;; esac
    done
  done
}

# kill_run: end every process the run started, and wait till they have ended. Pid files cannot
# say (a signal may come before one is written, and a producer's children are in none), so they
# are searched for. All are stopped first, searching again until no new one turns up (one may
# have just forked): a child whose parent dies first would be out of reach, and a curl whose tee
# ended first would finish its PUT, where the sinks drop one cut off. Then each gets TERM, and
# CONT; KILL those left after 5 s (a zfs send takes a moment to stop, in a disk read, say).
# wait_stopped PIDS: till each has stopped or ended (half a second at most: one in a disk wait
# stops only when it leaves it).
# shellcheck disable=SC2317 # called by the EXIT trap
wait_stopped() {
  ws_n=0
  while [ "$ws_n" -lt 50 ]; do
    procs
    ws_running=''
    for ws_e in $PROCS; do
      case " $1 " in *" \${ws_e%%:*} "*) ;; *) continue ;; esac
      case \${ws_e##*:} in T* | t* | Z* | X*) ;; *) ws_running=1 ;; esac
    done
    if [ -z "$ws_running" ]; then return 0; fi
    ws_n=$((ws_n + 1))
    sleep 0.01 2>/dev/null || { ws_n=$((ws_n + 9)) && sleep 1; }
  done
}

# shellcheck disable=SC2317 # called by the EXIT trap
kill_run() {
  if [ -z "$WORK" ]; then return 0; fi
  KILLED=' '
  while :; do
    run_procs
    kr_new=''
    for kr_pid in $RUN_PIDS; do
      case $KILLED in *" $kr_pid "*) ;; *) kr_new="$kr_new $kr_pid" ;; esac
    done
    if [ -z "$kr_new" ]; then break; fi
    # shellcheck disable=SC2086 # lists of pids
    kill -s STOP $kr_new 2>/dev/null || true
    KILLED="$KILLED\${kr_new# } "
    # a stop takes effect when the process next runs: one in the middle of a fork makes its
    # child after kill has returned, and a look at once would miss it (it would be left, an
    # orphan, when its parent is killed: a tee blocked on a fifo no curl opens, for ever)
    wait_stopped "$kr_new"
  done
  if [ "$KILLED" = ' ' ]; then return 0; fi
  # shellcheck disable=SC2086
  kill -s TERM $KILLED 2>/dev/null || true
  # shellcheck disable=SC2086
  kill -s CONT $KILLED 2>/dev/null || true
  kr_n=0 kr_hz=10
  while :; do
    # the killed ones still there, an orphan (its parent killed first) too; a zombie has ended
    procs
    kr_left=''
    for kr_e in $PROCS; do
      case $KILLED in *" \${kr_e%%:*} "*) ;; *) continue ;; esac
      case \${kr_e##*:} in Z* | X*) ;; *) kr_left="$kr_left \${kr_e%%:*}" ;; esac
    done
    if [ -z "$kr_left" ]; then return 0; fi
    # shellcheck disable=SC2086
    if [ "$kr_n" -eq $((5 * kr_hz)) ]; then kill -s KILL $kr_left 2>/dev/null || true; fi
    if [ "$kr_n" -ge $((10 * kr_hz)) ]; then
      log "processes$kr_left of the run did not end; the lock goes anyway"
      return 0
    fi
    kr_n=$((kr_n + 1))
    # (1 s steps where sleep takes no fractions)
    sleep 0.1 2>/dev/null || { kr_hz=1 && sleep 1; }
  done
}

# sink_index URL: its position in SINKS (as in ca<index>.pem), 0 when it is no longer a sink.
sink_index() {
  si_i=0
  for si_url in $SINKS; do
    si_i=$((si_i + 1))
    if [ "$si_url" = "$1" ]; then echo "$si_i" && return 0; fi
  done
  echo 0
}

# send NAME COMMAND...: send_to every sink.
send() { send_to "$SINKS" "$@"; }

# send_to URLS NAME COMMAND...: COMMAND writes the plaintext. Encrypted once; tee feeds one fifo per
# sink of URLS (a curl reading each) and the hash on the way, so no temp copy of the stream is
# ever written. Sets SENT to the number of those sinks that stored the whole file and its
# .sha256, and MISSED to the URLs of the others; UNSENT to 1 when the producer or openssl failed,
# so that no sink could store it (MISSED, every sink, then says nothing of the sinks). REFUSED
# lists URL=CODE for each sink of MISSED that answered the data PUT with an HTTP error (4xx, 5xx:
# full, body too large), not with no answer. SENT_HOOK, when set, is called with '' before the
# first .sha256 PUT (when a sink has the file whole), and with the URL of the first sink that
# stored the file and its .sha256, before the next sink's .sha256 PUT.
send_to() {
  to=$1 name=$2 d="$WORK/$2" REFUSED=
  shift 2
  if [ -n "$STOPPING" ]; then end_run 130 "stopped: $name and the rest of the run skipped"; fi
  mkdir "$d"
  i=0 fifos="" send_is="" nto=0
  SEND_DIR=$d
  for url in $SINKS; do
    i=$((i + 1))
    case " $to " in *" $url "*) ;; *) continue ;; esac
    send_is="$send_is $i" nto=$((nto + 1))
    mkfifo "$d/fifo$i"
    fifos="$fifos $d/fifo$i"
    # A writer holding the fifo open until the stream is judged whole (below): tee or the hash
    # failing after openssl's end would otherwise close it, and curl would end the cut-short body
    # normally, which the sink would store.
    sleep 2147483647 > "$d/fifo$i" &
    echo $! > "$d/hold$i"
    # The subshell holds the fifo open while curl (its child, pid in curlN) reads it, and drains
    # it once curl has ended, however it ended: a sink that answers before the body's end (a
    # redirect, a refusal) leaves it unread, and tee, losing a reader, would die and cut off
    # the stream to every other sink.
    (
      exec 3< "$d/fifo$i"
      curl_put "$url$name" "$i" - exec <&3 > "$d/code$i" &
      echo $! > "$d/curl$i"
      # (wait's stderr: no "Terminated" when abort_send kills curl; curl says what failed)
      put_status=0
      wait $! 2>/dev/null || put_status=$?
      echo finished > "$d/curl$i"
      if put_stored "$put_status" "$(cat "$d/code$i" 2>/dev/null || true)" "$url$name"; then echo ok > "$d/ok$i"; fi
      exec cat <&3 > /dev/null
    ) &
  done
  # In the background: a trapped signal interrupts wait at once, where a foreground pipeline
  # would run to its end first.
  mkfifo "$d/plain"
  { "$@" || abort_send "$d" reading; } > "$d/plain" &
  # shellcheck disable=SC2086 # fifos is a list of paths without spaces (mktemp)
  { openssl smime -encrypt -binary -aes256 -stream -outform DER $RECIPIENTS < "$d/plain" || abort_send "$d" encrypting; } \
    | { tee $fifos || abort_send "$d" tee; } | { hash_stdin > "$d/sha256" || echo hashing >> "$d/failed"; } &
  # Each stage records its failure (sh keeps only the status of the last). The hash ends after tee and openssl: then
  # the stream is judged, with the curls still held by the fifos' writers. A sum that is not 64
  # hex digits (sha256sum failing inside hash_stdin's pipe) fails the file too: its curls are
  # killed before their body ends, so no sink keeps it, and no .sha256 is ever sent for it.
  # (a signal that on_signal returns from interrupts wait: the pipeline is still ending)
  send_pipe=$!
  until wait "$send_pipe"; do if ! kill -0 "$send_pipe" 2>/dev/null; then break; fi; done
  sum=$(cat "$d/sha256" 2>/dev/null || true)
  case $sum in *[!0-9a-f]*) sum= ;; esac
  if [ \${#sum} -ne 64 ] && [ ! -e "$d/failed" ]; then abort_send "$d" hashing; fi
  if [ -e "$d/failed" ]; then abort_send "$d" "$(head -n 1 "$d/failed")"; fi
  for i in $send_is; do kill "$(cat "$d/hold$i")" 2>/dev/null || true; done
  until wait; do :; done
  SENT=0 MISSED=$to
  # shellcheck disable=SC2034 # (read by the OpenWrt script)
  UNSENT=''
  if [ -e "$d/failed" ]; then
    log "$name: $(head -n 1 "$d/failed") failed; upload cut off, no .sha256 sent"
    # shellcheck disable=SC2034
    UNSENT=1 FAILED=1 SEND_DIR=
    return 0
  fi
  printf '%s  %s\n' "$sum" "$name" > "$d/companion"
  # (before the first .sha256 PUT, if a sink has the file whole: a PUT may store it, then the run die)
  if [ -n "$SENT_HOOK" ] && ls "$d"/ok* > /dev/null 2>&1; then "$SENT_HOOK" ''; fi
  i=0 MISSED=
  for url in $SINKS; do
    i=$((i + 1))
    case " $to " in *" $url "*) ;; *) continue ;; esac
    if [ -e "$d/ok$i" ] && put_file "$url$name.sha256" "$i" "$d/companion"; then
      SENT=$((SENT + 1))
      # (the first sink that has it whole: what a run killed from here on must not undo)
      if [ "$SENT" -eq 1 ] && [ -n "$SENT_HOOK" ]; then "$SENT_HOOK" "$url"; fi
    else
      MISSED="$MISSED $url"
      log "$name: not stored on $url"
      st_code=$(cat "$d/code$i" 2>/dev/null || true)
      case $st_code in [45][0-9][0-9]) REFUSED="$REFUSED $url=$st_code" ;; esac
    fi
  done
  log "$name: stored on $SENT of $nto sinks (sha256 $sum)"
  if [ "$SENT" -eq 0 ]; then FAILED=1; elif [ "$SENT" -lt "$nto" ]; then DEGRADED=1; fi
  # (from here a signal ends the run at once: nothing is left to finish)
  SEND_DIR=
}

finish() {
  if [ -n "$STOPPING" ]; then end_run 130 "stopped after its last file"; fi
  if [ "$FAILED" -ne 0 ]; then end_run 1 "failed: a file reached no sink"; fi
  if [ "$DEGRADED" -ne 0 ]; then end_run 4 "degraded: a file missed a sink"; fi
  end_run 0 ok
}
`;
