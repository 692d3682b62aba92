#!/usr/bin/env bash
# npm run demo: the whole product on its embedded default, on this machine, for real.
#   a recipient key pair (the private key stays "offline" in keys/)
#   two embedded write-only sinks on 127.0.0.1 (deaddrop sink serve), one host enrolled on both
#   a full backup of a sample tree to both sinks, a change, an incremental
#   the weekly check on each sink (no key needed)
#   a restore from sink B alone, compared byte for byte with the live tree
# Everything lives in DEMO_DIR (default: a new temp directory), kept afterwards for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

npm run --silent build # tsc -b is incremental: a no-op when the build is current
deaddrop() { "$repo/cli/bin/deaddrop.js" "$@"; }

demo=${DEMO_DIR:-$(mktemp -d /tmp/deaddrop-demo.XXXXXX)}
mkdir -p "$demo"
demo=$(cd "$demo" && pwd)
if [ -n "$(ls -A "$demo")" ]; then
  echo "demo: $demo is not empty; set DEMO_DIR to a new directory" >&2
  exit 2
fi
host="demo-host"
step() { printf '\n== %s\n' "$*"; }

pids=()
# stop the sinks (SIGTERM: a clean shutdown) and wait until they are gone
cleanup() {
  local p
  for p in "${pids[@]}"; do
    if kill "$p" 2>/dev/null; then wait "$p" 2>/dev/null || true; fi
  done
}
trap cleanup EXIT

step "1. recipient key pair (keys/recipient.pem goes to clients; recipient.key stays offline)"
printf 'demo passphrase\n' >"$demo/passphrase"
chmod 600 "$demo/passphrase"
deaddrop keys generate --cn "deaddrop demo recipient" --out "$demo/keys" --passphrase-file "$demo/passphrase"

step "2. two embedded sinks on 127.0.0.1, $host enrolled on both"
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
for s in a b; do
  mkdir -p "$demo/sink-$s"
  printf '%s\n' "$password" | deaddrop sink add-host "$host" --root "$demo/sink-$s" \
    --htpasswd "$demo/sink-$s.htpasswd" --password-stdin --cost 4 >/dev/null
  # exec: $! must be the sink itself, not a subshell running the deaddrop function
  (exec "$repo/cli/bin/deaddrop.js" sink serve --root "$demo/sink-$s" --htpasswd "$demo/sink-$s.htpasswd" \
    --listen 127.0.0.1:0 --json --access-log "$demo/sink-$s.access.log") >"$demo/sink-$s.out" 2>"$demo/sink-$s.err" &
  pids+=($!)
done
port_of() {
  local out=$1 i
  for i in $(seq 1 100); do
    if grep -qo '127\.0\.0\.1:[0-9]*' "$out" 2>/dev/null; then
      grep -o '127\.0\.0\.1:[0-9]*' "$out" | head -1 | cut -d: -f2
      return
    fi
    sleep 0.1
  done
  echo "demo: sink did not start: $(cat "${out%.out}.err")" >&2
  exit 1
}
port_a=$(port_of "$demo/sink-a.out")
port_b=$(port_of "$demo/sink-b.out")
echo "sink A: http://127.0.0.1:$port_a/webdav/   sink B: http://127.0.0.1:$port_b/webdav/"

step "3. client configuration (netrc mode 0600, no secret that decrypts)"
mkdir -p "$demo/client"
umask 077
printf 'machine 127.0.0.1\nlogin %s\npassword %s\n' "$host" "$password" >"$demo/client/netrc"
umask 022
cat >"$demo/client/client.json" <<EOF
{
  "host": "$host",
  "sources": ["$demo/data"],
  "recipients": ["$demo/keys/recipient.pem"],
  "sinks": [
    { "name": "a", "url": "http://127.0.0.1:$port_a/webdav/$host/" },
    { "name": "b", "url": "http://127.0.0.1:$port_b/webdav/$host/" }
  ],
  "netrc": "$demo/client/netrc",
  "archiveDir": "$demo/client/archive",
  "metricsFile": "$demo/client/deaddrop.prom"
}
EOF
cat "$demo/client/client.json"

step "4. sample tree and a full backup"
mkdir -p "$demo/data/etc" "$demo/data/var/log" "$demo/data/home/alice"
for i in $(seq 1 200); do printf 'setting_%d = %d\n' "$i" "$((i * 7))" >>"$demo/data/etc/app.conf"; done
head -c 3000000 /dev/urandom >"$demo/data/home/alice/photo.jpg"
for i in $(seq 1 20000); do echo "line $i: request served"; done >"$demo/data/var/log/app.log"
ln -s ../etc/app.conf "$demo/data/home/alice/app.conf"
printf 'tab\there\n' >"$demo/data/home/alice/$(printf 'caf\xe9')"
deaddrop backup --full --config "$demo/client/client.json"

step "5. a day of change and an incremental"
sleep 1 # a new second: duplicity set names carry times in seconds
for i in $(seq 20001 21000); do echo "line $i: request served"; done >>"$demo/data/var/log/app.log"
printf 'new = 1\n' >"$demo/data/etc/new.conf"
rm "$demo/data/etc/app.conf"
deaddrop backup --incremental --config "$demo/client/client.json"
deaddrop status --config "$demo/client/client.json"

step "6. what the sinks hold (the same files on both)"
ls -l "$demo/sink-a/$host"
diff <(cd "$demo/sink-a/$host" && sha256sum -- *) <(cd "$demo/sink-b/$host" && sha256sum -- *)
(cd "$demo/sink-b/$host" && sha256sum --quiet -c -- *.sha256sums) && echo "sha256sum -c: ok on sink B"

step "7. the weekly check on each sink (without the key)"
for s in a b; do deaddrop check --root "$demo/sink-$s" --htpasswd "$demo/sink-$s.htpasswd"; done

step "8. restore from sink B alone with the offline key, compare with the live tree"
deaddrop restore --from "$demo/sink-b" --host "$host" --key "$demo/keys/recipient.key" \
  --passphrase-file "$demo/passphrase" --to "$demo/restored"
diff -r --no-dereference "$demo/data" "$demo/restored"
echo "restored tree == live tree (diff -r: no differences)"

printf '\ndemo: done; everything is in %s\n' "$demo"
