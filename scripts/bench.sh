#!/usr/bin/env bash
# npm run bench [-- NAME...]: speed and memory next to the stock tools, measured in the same run.
# Each bench/NAME.bench.ts prints its table; the CLI runs from the compiled dist.
set -euo pipefail
cd "$(dirname "$0")/.."
# the peers the issues compare against, measured in the same run: borg and restic (duplicity,
# rdiff and GNU time come with setup.sh)
./scripts/apt-ensure.sh time borgbackup restic
npm run --silent build
export DEADDROP_CLI=dist BENCH_DIR="${BENCH_DIR:-$PWD/.bench}"
mkdir -p "$BENCH_DIR"
if [ $# -gt 0 ]; then names=("$@"); else
  names=()
  for f in bench/*.bench.ts; do n=${f#bench/}; names+=("${n%.bench.ts}"); done
fi
for n in "${names[@]}"; do
  echo "=== bench: $n"
  node --conditions=source --import tsx "bench/$n.bench.ts"
done
