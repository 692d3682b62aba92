#!/usr/bin/env bash
# npm run bench [-- NAME...]: speed and memory next to the stock tools, measured in the same run.
# Each bench/NAME.bench.ts prints its table; the CLI runs from the compiled dist.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 2; }
npx --no-install tsc -b
export DEADDROP_CLI=dist BENCH_DIR="${BENCH_DIR:-$PWD/.bench}"
mkdir -p "$BENCH_DIR"
if [ $# -gt 0 ]; then names=("$@"); else
  mapfile -t names < <(ls bench/*.bench.ts 2>/dev/null | sed 's|bench/||; s|\.bench\.ts$||')
fi
for n in "${names[@]}"; do
  echo "=== bench: $n"
  node --conditions=source --import tsx "bench/$n.bench.ts"
done
