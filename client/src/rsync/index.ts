export * from './magic.js';
export { createSignatureStream } from './signature.js';
export { parseSignature, readSignature, type Signature } from './read-signature.js';
export { createDeltaStream, deltaOfRange, MAX_LITERAL } from './delta.js';
export { createPatchStream } from './patch.js';
export { SumIndex } from './sum-index.js';
export {
  loadSharedSignature,
  PARALLEL_MIN,
  parallelDelta,
  parallelSignature,
  parallelThreads,
  rangeLength,
  SPAWN_WHEN_LEFT_MS,
  workersWorthIt,
  type SpawnPolicy,
} from './parallel.js';
