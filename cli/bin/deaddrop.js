#!/usr/bin/env -S node --max-semi-space-size=1 --v8-pool-size=1 --heap-growing-percent=150
// Thin launcher: runs the bundled CLI in ../bundle (scripts/bundle.mjs), else the compiled one in
// ../dist; `npm ci` (the root `prepare` script) and `npm run build` make both.
// A 1 MiB semi-space: our streams scavenge every 2 MiB of buffers anyway (common/src/young-gc.ts),
// and V8's default young generation grows to ~48 MiB of RSS that then stays (restore of 1 GiB:
// 111 -> 92 MiB; full backup 232 -> 193-217 MiB, no slower). Heap sizes can only be set at start.
// One V8 platform thread instead of 4: each thread that mallocs keeps a glibc arena of its own
// (restore of 1 GiB: 98 -> 92 MiB, not slower; full and incremental backup no slower).
// The old generation may grow to 2.5x what survived the last full GC, a fixed factor in place of
// V8's adaptive one. A backup's buffers in flight count against that limit, so with a small heap
// a full GC came every ~10 MB of data: 113 in the 1 GiB bench's full backup, 74 at 2.5x; the V8
// thread's CPU, mostly marking, 2.6 -> 1.9 s. Medians of 6 alternating runs each: full backup
// 8.35 -> 7.98 s, CPU 15.2 -> 14.3 s, RSS 201 -> 185 MiB; incremental 2.82 -> 2.64 s, RSS 180 ->
// 182 MiB; restore unchanged (4.50 -> 4.73 s, 88 -> 89 MiB: within the noise).
// Tests and benches start the CLI with the flags of this line (test/src/cli.ts).
import { existsSync } from 'node:fs';

const bundle = new URL('../bundle/main.js', import.meta.url);
await import(existsSync(bundle) ? bundle.href : '../dist/main.js');
