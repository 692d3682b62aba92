/**
 * A host directory on disk: only regular files are set files. A symlink named like one (say
 * to /etc/passwd) is not read, and is named at debug level (--verbose).
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDirSource } from '@deaddrop/client/restore/dir-source';
import { tempDir } from '@deaddrop/test';

test('symlinks and other non-regular names in a host directory are ignored, at debug level', async () => {
  const tmp = tempDir('deaddrop-dir-source-');
  const host = join(tmp, 'h');
  mkdirSync(host);
  const full = 'duplicity-full.20261101T031500Z.manifest';
  writeFileSync(join(host, full), 'Volume 1:\n');
  const link = 'duplicity-inc.20261101T031500Z.to.20261102T031500Z.manifest';
  symlinkSync('/etc/passwd', join(host, link));
  mkdirSync(join(host, 'duplicity-full.20261103T031500Z.manifest'));
  const debug: string[] = [];
  const source = await openDirSource(tmp, 'h', (m) => debug.push(m));
  assert.deepEqual([...(await source.list()).keys()], [full]);
  assert.equal(debug.length, 2, debug.join('\n'));
  assert.ok(
    debug.some((m) => m.includes(link) && /symlink/.test(m)),
    debug.join('\n'),
  );
});
