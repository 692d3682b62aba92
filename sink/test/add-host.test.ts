import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDeaddrop, tempDir } from '@deaddrop/test';

/** A scratch sink: DIR/root (the sink root) and DIR/htpasswd (not made). */
function sink(): { dir: string; root: string; htpasswd: string } {
  const dir = tempDir();
  const root = join(dir, 'root');
  mkdirSync(root);
  return { dir, root, htpasswd: join(dir, 'htpasswd') };
}

const addHost = (host: string, root: string, htpasswd: string, more: string[] = [], input?: string) =>
  runDeaddrop(['sink', 'add-host', host, '--root', root, '--htpasswd', htpasswd, '--cost', '4', ...more], {
    input: input ?? '',
  });

test('sink add-host: an --htpasswd that cannot be the file is a usage error naming it', async () => {
  const { dir, root } = sink();
  const asDir = join(dir, 'hp');
  mkdirSync(asDir);
  const fileAsParent = join(dir, 'plain');
  writeFileSync(fileAsParent, '');
  for (const [file, why] of [
    [asDir, 'is a directory'],
    [join(dir, 'nodir', 'x'), `directory ${join(dir, 'nodir')} does not exist`],
    [join(fileAsParent, 'x'), 'a component of the path is not a directory'],
  ] as const) {
    const r = await addHost('a', root, file);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim(), `deaddrop: --htpasswd ${file}: ${why}`);
  }
});
