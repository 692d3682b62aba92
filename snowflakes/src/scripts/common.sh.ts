/**
 * The shell functions both snowflake scripts share: logging, the lock, and sending one
 * encrypted stream to every sink at once. POSIX sh only (busybox ash, dash, FreeBSD sh).
 */
import { sh } from './sh.js';

export const COMMON_SH = sh`
log() { logger -t "$TAG" -- "$*" 2>/dev/null || true; printf '%s: %s\n' "$TAG" "$*" >&2; }

# mkdir is atomic everywhere; a lock left by a killed run (dead pid) is taken over.
take_lock() {
  mkdir -p "$STATE"
  if ! mkdir "$LOCK" 2>/dev/null; then
    old=$(cat "$LOCK/pid" 2>/dev/null || true)
    if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
      log "another run (pid $old) holds $LOCK"
      exit 3
    fi
    log "taking over the stale lock of pid \${old:-unknown}"
    rm -rf "$LOCK"
    mkdir "$LOCK" || exit 3
  fi
  echo $$ > "$LOCK/pid"
  WORK=$(mktemp -d "\${TMPDIR:-/tmp}/deaddrop.XXXXXX")
  trap 'rm -rf "$WORK" "$LOCK"' EXIT
  trap 'exit 130' INT TERM HUP
  write_embedded_files
}

hash_stdin() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1; else sha256 -q; fi
}

# put_stdin URL SINK_INDEX: curl reads the body from stdin; the password comes from the netrc
# file, never argv; a sink with its own CA has it embedded as ca<index>.pem. A sink that stalls
# (under 1 byte/s for 5 minutes) is dropped so tee keeps feeding the others.
put_stdin() {
  if [ -e "$WORK/ca$2.pem" ]; then
    curl -fsS --retry 2 --retry-delay 1 --connect-timeout 20 --speed-limit 1 --speed-time 300 --cacert "$WORK/ca$2.pem" --netrc-file "$NETRC" -T - "$1"
  else
    curl -fsS --retry 2 --retry-delay 1 --connect-timeout 20 --speed-limit 1 --speed-time 300 --netrc-file "$NETRC" -T - "$1"
  fi
}

# send NAME COMMAND...: COMMAND writes the plaintext. Encrypted once; tee feeds one fifo per sink (a curl
# reading each) and the hash on the way, so no temp copy of the stream is ever written.
# Sets SENT to the number of sinks that stored the whole file and its .sha256.
send() {
  name=$1 d="$WORK/$1"
  shift
  mkdir "$d"
  i=0 fifos=""
  for url in $SINKS; do
    i=$((i + 1))
    mkfifo "$d/fifo$i"
    fifos="$fifos $d/fifo$i"
    # A failed curl still drains its fifo so tee keeps feeding the other sinks.
    ( { if put_stdin "$url$name" "$i"; then echo ok > "$d/ok$i"; else cat > /dev/null; fi; } < "$d/fifo$i" ) &
  done
  # shellcheck disable=SC2086 # fifos is a list of paths without spaces (mktemp)
  { "$@" || echo fail > "$d/failed"; } \
    | { openssl smime -encrypt -binary -aes256 -stream -outform DER $RECIPIENTS || echo fail > "$d/failed"; } \
    | tee $fifos | hash_stdin > "$d/sha256"
  wait
  SENT=0
  if [ -e "$d/failed" ]; then
    log "$name: reading or encrypting failed; no .sha256 uploaded"
    FAILED=1
    return 0
  fi
  sum=$(cat "$d/sha256")
  i=0
  for url in $SINKS; do
    i=$((i + 1))
    if [ -e "$d/ok$i" ] && printf '%s  %s\n' "$sum" "$name" | put_stdin "$url$name.sha256" "$i"; then
      SENT=$((SENT + 1))
    else
      log "$name: not stored on $url"
    fi
  done
  log "$name: stored on $SENT of $NSINKS sinks (sha256 $sum)"
  if [ "$SENT" -eq 0 ]; then FAILED=1; elif [ "$SENT" -lt "$NSINKS" ]; then DEGRADED=1; fi
}

finish() {
  if [ "$FAILED" -ne 0 ]; then log "failed: a file reached no sink"; exit 1; fi
  if [ "$DEGRADED" -ne 0 ]; then log "degraded: a file missed a sink"; exit 4; fi
  log "ok"
  exit 0
}
`;
