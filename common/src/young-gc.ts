import { createRequire } from 'node:module';

/**
 * Keep RSS flat while streaming. Every Buffer a stream allocates (a read, a cipher output, a
 * deflate output) lives outside the V8 heap, and V8 only collects that external memory after
 * it has grown by about 64 MiB since the last GC, so a 64 KiB-chunk pipeline climbs to ~64 MiB
 * of dead Buffers before anything is freed. A scavenge (minor GC, well under a millisecond with
 * a small young generation) after every 4 MiB of Buffers frees them early, which also keeps the
 * working set in cache: it measured faster than not collecting at all. Not much more often, or
 * Buffers still in flight are promoted (below): the bench's 1 GiB restore, peak RSS over 2 runs
 * each, budget 1 MiB 128-138 MiB, 2 MiB 97, 3-4 MiB 86-89, 6-16 MiB 90-96 (full backup: the
 * same at 2 and 4 MiB).
 *
 * Streams call noteAllocated(bytes) for what they allocate; the budget is process-wide. It only
 * frees what is already dead: a Buffer still referenced across two scavenges (an awaited write
 * per chunk, say) is promoted and then waits for a full GC, so consumers drop each chunk
 * before the next one arrives (sink/src/put.ts).
 */
const BUDGET = 4 << 20;
let allocated = 0;

let scavenge: (() => void) | null | undefined;

function scavenger(): (() => void) | null {
  try {
    // loaded here, not at start-up: node:v8 costs ~8 ms to load, and a short command (one
    // `deaddrop rdiff` of a file, say) may never reach the budget
    const require = createRequire(import.meta.url);
    const v8 = require('node:v8') as typeof import('node:v8');
    const vm = require('node:vm') as typeof import('node:vm');
    // --expose-gc after start-up: the flag applies to contexts created afterwards
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as (opts?: { type: 'minor' | 'major' }) => void;
    return () => gc({ type: 'minor' });
  } catch {
    return null;
  }
}

export function noteAllocated(bytes: number): void {
  allocated += bytes;
  if (allocated < BUDGET) return;
  allocated = 0;
  if (scavenge === undefined) scavenge = scavenger();
  scavenge?.();
}

/**
 * Hand a Buffer's memory to the next scavenge instead of the next full GC. A Buffer held while
 * it waits its turn (a job's result queued behind others, a volume's output until its write is
 * done) outlives two scavenges and is promoted; its memory then stays until V8 runs a full GC,
 * which it does after some 64 MiB of such memory (RSS). Detaching the ArrayBuffer (a transfer
 * to a clone that nobody keeps) moves the memory to a young object, freed by the next
 * scavenge (the bench's 1 GiB full backup: 57 full GCs of its main thread before, 8 after).
 * Only for a Buffer whose whole ArrayBuffer is the caller's and no longer used: every view of
 * it becomes empty. Buffers of Node's shared pool (small ones) and ones that cannot be
 * detached are left alone.
 */
export function release(buf: Uint8Array): void {
  const ab = buf.buffer;
  if (!(ab instanceof ArrayBuffer) || ab.byteLength <= Buffer.poolSize) return;
  try {
    structuredClone(ab, { transfer: [ab] });
  } catch {
    // not detachable (wasm memory, some of Node's own): left to the GC
  }
}
