export * from './tools.js';
export * from './tmp.js';
export * from './cli.js';
export * from './keys.js';
export * from './sinks.js';
export * from './trees.js';
export * from './duplicity.js';
export * from './client-config.js';
