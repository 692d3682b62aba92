#!/usr/bin/env -S node --max-semi-space-size=1 --v8-pool-size=1
// Thin launcher: the compiled CLI lives in ../dist (built by `npm ci` through the root `prepare` script).
// A 1 MiB semi-space: our streams scavenge every 2 MiB of buffers anyway (common/src/young-gc.ts),
// and V8's default young generation grows to ~48 MiB of RSS that then stays (restore of 1 GiB:
// 111 -> 92 MiB; full backup 232 -> 193-217 MiB, no slower). Heap sizes can only be set at start.
// One V8 platform thread instead of 4: each thread that mallocs keeps a glibc arena of its own
// (restore of 1 GiB: 98 -> 92 MiB, not slower; full and incremental backup no slower).
// Tests and benches start the CLI with the flags of this line (test/src/cli.ts).
import '../dist/main.js';
