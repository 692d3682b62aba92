#!/usr/bin/env node
// Builds the client's optional addons (docs/OPERATIONS.md "Deflate", "Digests"):
// client/native/igzip.node, ISA-L's deflate and inflate (needs libisal-dev), and
// client/native/digest.node, hashing on the thread pool with Node's own OpenSSL, and
// client/native/stage.node, creating restored files there, client/native/cipher.node,
// decrypting the restore's data into reused buffers, and client/native/md4.node, MD4 of
// sixteen blocks at a time with AVX-512. Without a C compiler or
// libisal-dev the backup deflates with zlib, about a third as fast, and the restore does the
// rest on its main thread. So a failed build only warns, except in CI (CI=true),
// where every tool the tests use must be there. Run by `npm ci` (the root prepare script) and
// by hand after `apt-get install gcc libisal-dev`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'client', 'native');
const ADDONS = [
  { name: 'igzip', libs: ['-lisal'], without: 'backups deflate with zlib' },
  { name: 'digest', libs: [], without: 'restores hash on their main thread' },
  { name: 'stage', libs: [], without: 'restores create their files on their main thread' },
  { name: 'cipher', libs: [], without: 'restores decrypt with node:crypto, into new buffers' },
  { name: 'md4', libs: [], without: 'signatures hash MD4 in WebAssembly, four blocks at a time' },
];
// Node's own headers: <prefix>/include/node beside <prefix>/bin/node (Debian, nvm, tarballs)
const include = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((d) =>
  existsSync(join(d, 'node_api.h')),
);
const ci = process.env.CI === 'true' || process.env.CI === '1';

/** Says why `addon` was not built; true when that fails the build (CI). */
function give(addon, out, reason) {
  // an older build must not stay in use while this says it is not there
  rmSync(out, { force: true });
  const message = `deaddrop: ${addon.name} addon not built (${reason}); ${addon.without}`;
  if (ci) console.error(`${message}. CI needs it: scripts/setup.sh installs gcc and libisal-dev.`);
  else console.error(`${message}. To build it: apt-get install gcc libisal-dev && npm run build:native`);
  return ci;
}

let failed = false;
for (const addon of ADDONS) {
  const out = join(dir, 'build', `${addon.name}.node`);
  if (!include) {
    failed = give(addon, out, "Node's headers (node_api.h) not found") || failed;
    continue;
  }
  mkdirSync(dirname(out), { recursive: true });
  // CC as make takes it: a command and its arguments (CC="ccache gcc")
  const [cc, ...ccArgs] = (process.env.CC || 'cc').trim().split(/\s+/);
  const args = [...ccArgs, '-O2', '-fPIC', '-shared', '-Wall', '-Werror', `-I${include}`, join(dir, `${addon.name}.c`)];
  const r = spawnSync(cc, [...args, '-o', out, ...addon.libs], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) failed = give(addon, out, `${cc}: ${r.error.message}`) || failed;
  else if (r.status !== 0) failed = give(addon, out, `${cc} exited with ${r.status}`) || failed;
}
process.exit(failed ? 1 : 0);
