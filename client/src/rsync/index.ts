export * from './magic.js';
export { createSignatureStream } from './signature.js';
export { readSignature, type Signature } from './read-signature.js';
export { createDeltaStream, MAX_LITERAL } from './delta.js';
export { createPatchStream } from './patch.js';
