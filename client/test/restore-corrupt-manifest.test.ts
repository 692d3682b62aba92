/**
 * A manifest that lists no volume is damage (duplicity and deaddrop always write volume 1): it
 * is refused naming the file, never read as a set that changes nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifest } from '@deaddrop/client/format/manifest';

test('a manifest without any volume is refused as corrupt, naming the file', () => {
  for (const text of ['', 'Hostname h\nLocaldir /src\n', '\x85\x02\x0c\x03garbage\n', 'Filelist 1\n    new  a\n'])
    assert.throws(
      () => parseManifest(Buffer.from(text, 'latin1'), 'duplicity-full.20261101T031500Z.manifest'),
      /^DeaddropError: duplicity-full\.20261101T031500Z\.manifest: corrupt manifest: it lists no volume/,
    );
});
