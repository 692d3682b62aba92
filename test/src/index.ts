export * from './tools.js';
export * from './tmp.js';
export * from './cli.js';
export * from './keys.js';
