#!/usr/bin/env bash
# The test command (README, CI): typecheck everything, then node's test runner over every
# *.test.ts, run from the TypeScript sources through tsx. `scripts/test.sh FILE...` runs a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then files=("$@"); else
  # the full run typechecks every package and every test first; a subset run does not
  npx --no-install tsc -b
  npx --no-install tsc -p tsconfig.test.json
  mapfile -t files < <(find . -path ./node_modules -prune -o -name '*.test.ts' -print | grep -v '/node_modules/' | sort)
fi
exec node --conditions=source --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" \
  --test-reporter=spec "${files[@]}"
