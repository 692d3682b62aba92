#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine: the system tools deaddrop's tests and demo use as oracles
# and peers, then the npm workspace (npm ci builds the CLI into node_modules/.bin/deaddrop).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  openssl gpgsm gpg gpg-agent          # CMS oracles (openssl smime/cms, gpgsm)
  rdiff duplicity                      # librsync and duplicity 0.8.22 format oracles
  nginx libnginx-mod-http-dav-ext      # the deployed sink
  apache2-utils                        # htpasswd
  curl busybox dash shellcheck         # snowflake scripts: run under busybox ash and dash, lint
  openssh-server                       # install over SSH
  systemd                              # systemd-analyze verify on our units
  bsdutils                             # script(1): a terminal for the progress line tests
  gcc libisal-dev                      # the ISA-L deflate addon (client/native, built by npm ci)
  strace                               # keys generate: the fsyncs that keep a new key
  util-linux-extra                     # fincore: what a restore leaves in the page cache
  python3 coreutils procps time
)

./scripts/apt-ensure.sh "${PACKAGES[@]}"

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("setup: Node >= 20.19 is required, found "+process.version); process.exit(1) }'
npm ci --no-audit --no-fund
