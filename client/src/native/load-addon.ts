/**
 * The client's optional addons (client/native/*.c, built by scripts/build-native.mjs): loaded
 * once each, null where not built (or turned off), and the callers then do without.
 */
import { createRequire } from 'node:module';

const loaded = new Map<string, unknown>();

/** Where `name`.node is built, from client/src/native or client/dist/native, or from cli/bundle. */
const pathsOf = (name: string) => [`../../native/build/${name}.node`, `../../client/native/build/${name}.node`];

export function loadAddon<T>(name: string, turnedOff = false): T | null {
  if (!loaded.has(name)) {
    let addon: T | null = null;
    if (!turnedOff) {
      const require = createRequire(import.meta.url);
      for (const path of pathsOf(name)) {
        try {
          addon = require(path) as T;
          break;
        } catch {
          // not here, or not built
        }
      }
    }
    loaded.set(name, addon);
  }
  return loaded.get(name) as T | null;
}
