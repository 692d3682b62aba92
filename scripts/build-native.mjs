#!/usr/bin/env node
// Builds client/native/igzip.node, the ISA-L deflate addon (docs/OPERATIONS.md "Deflate").
// It is optional: without a C compiler or libisal-dev the backup deflates with zlib, about a
// third as fast. So a failed build only warns, except in CI (CI=true), where every tool the
// tests use must be there. Run by `npm ci` (the root prepare script) and by hand after
// `apt-get install libisal-dev`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'client', 'native');
const out = join(dir, 'build', 'igzip.node');
// Node's own headers: <prefix>/include/node beside <prefix>/bin/node (Debian, nvm, tarballs)
const include = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((d) =>
  existsSync(join(d, 'node_api.h')),
);

function give(reason) {
  // an older build must not stay in use while this says zlib
  rmSync(out, { force: true });
  const message = `deaddrop: ISA-L deflate not built (${reason}); backups deflate with zlib`;
  if (process.env.CI === 'true' || process.env.CI === '1') {
    console.error(`${message}. CI needs it: scripts/setup.sh installs gcc and libisal-dev.`);
    process.exit(1);
  }
  console.error(`${message}. For faster backups: apt-get install gcc libisal-dev && npm run build:native`);
  process.exit(0);
}

if (!include) give("Node's headers (node_api.h) not found");
mkdirSync(dirname(out), { recursive: true });
// CC as make takes it: a command and its arguments (CC="ccache gcc")
const [cc, ...ccArgs] = (process.env.CC || 'cc').trim().split(/\s+/);
const args = [...ccArgs, '-O2', '-fPIC', '-shared', '-Wall', '-Werror', `-I${include}`, join(dir, 'igzip.c')];
const r = spawnSync(cc, [...args, '-o', out, '-lisal'], { stdio: ['ignore', 'inherit', 'inherit'] });
if (r.error) give(`${cc}: ${r.error.message}`);
if (r.status !== 0) give(`${cc} exited with ${r.status}`);
