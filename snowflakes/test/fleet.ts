import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@deaddrop/test';

/** A new temp directory holding a throwaway recipient certificate, c.pem (and its key, k.pem). */
export function certDir(prefix: string): string {
  const dir = tempDir(prefix);
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=t', '-keyout', 'k.pem', '-out', 'c.pem'],
    { cwd: dir },
  );
  assert.equal(r.status, 0, r.stderr.toString());
  return dir;
}

/** dir/fleet.json holding `fleet`; its path. */
export function writeFleet(dir: string, fleet: object): string {
  const path = join(dir, 'fleet.json');
  writeFileSync(path, JSON.stringify(fleet));
  return path;
}
