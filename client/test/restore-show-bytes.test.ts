/**
 * verify compares link targets as bytes (two different non-UTF-8 targets once both decoded to
 * U+FFFD and compared equal), and names and targets are shown so that different bytes read
 * differently: UTF-8 as it is, other bytes, control characters and the backslash escaped.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compareWithLive } from '@deaddrop/client/restore/compare-live';
import { parsePathArgument } from '@deaddrop/client/restore/path-arguments';
import { bytesOfShown, showBytes, showIndex } from '@deaddrop/client/restore/show-bytes';
import { tempDir } from '@deaddrop/test';

const b = (x: string | number[]) => (typeof x === 'string' ? Buffer.from(x) : Buffer.from(x));

test('showBytes: UTF-8 kept, other bytes as \\xNN, backslash doubled', () => {
  assert.equal(showBytes(b('café/ü €𝄞')), 'café/ü €𝄞');
  assert.equal(showBytes(b([0x63, 0x61, 0x66, 0xe9])), 'caf\\xe9');
  assert.equal(showBytes(b([0xfe])), '\\xfe');
  assert.equal(showBytes(b('a\\xfe')), 'a\\\\xfe'); // the text "\xfe", not the byte
  assert.equal(showBytes(b('new\nline\x7f')), 'new\\x0aline\\x7f');
  assert.equal(showBytes(b([0x61, 0xc2, 0x9b, 0x62, 0xc2, 0xa0])), 'a\\xc2\\x9bb\u00a0'); // C1 CSI escaped, NBSP kept
  assert.equal(showBytes(b([0xc0, 0xaf])), '\\xc0\\xaf'); // overlong '/'
  assert.equal(showBytes(b([0xed, 0xa0, 0x80])), '\\xed\\xa0\\x80'); // a surrogate
  assert.equal(showBytes(b([0xe2, 0x82])), '\\xe2\\x82'); // cut short
  assert.equal(showIndex([]), '.');
  assert.equal(showIndex([b('d'), b([0xe9])]), 'd/\\xe9');
  // different bytes, different text
  const seen = new Map<string, string>();
  for (let x = 0; x < 256; x++)
    for (const y of [0x00, 0x41, 0x5c, 0x78, 0x80, 0xa9, 0xbf, 0xc3, 0xff]) {
      const bytes = b([x, y]);
      const text = showBytes(bytes);
      assert.ok(!seen.has(text) || seen.get(text) === bytes.toString('hex'), text);
      seen.set(text, bytes.toString('hex'));
    }
});

test('--path takes names as shown: \\xNN and \\\\ back to their bytes', () => {
  for (let x = 0; x < 256; x++)
    for (const y of [0x00, 0x41, 0x5c, 0x78, 0x80, 0xa9, 0xbf, 0xc3, 0xff]) {
      const bytes = b([x, y, 0x5c, 0x78, 0x34, 0x31]); // and a literal "\x41" after them
      assert.equal(bytesOfShown(showBytes(bytes)).toString('hex'), bytes.toString('hex'));
    }
  assert.deepEqual(parsePathArgument('d/caf\\xe9/').index, [b('d'), b([0x63, 0x61, 0x66, 0xe9])]);
  assert.deepEqual(parsePathArgument('a\\b').index, [b('a\\b')], 'a lone backslash is taken as it is');
});

test('verify: symlink targets that differ only in non-UTF-8 bytes are a difference', async () => {
  const tmp = tempDir('deaddrop-verify-target-');
  const [backup, live] = ['backup', 'live'].map((d) => join(tmp, d)) as [string, string];
  for (const [dir, target] of [
    [backup, 0xfe],
    [live, 0xfd],
  ] as const) {
    mkdirSync(dir);
    symlinkSync(b([target]), Buffer.from(join(dir, 'l')));
    mkdirSync(join(dir, 'same'));
    symlinkSync(b([0xfe]), Buffer.concat([Buffer.from(`${dir}/same/`), b([0xe9])]));
    utimesSync(join(dir, 'same'), 1e9, 1e9);
    utimesSync(dir, 1e9, 1e9);
  }
  const d = await compareWithLive(Buffer.from(backup), Buffer.from(live), { owners: false });
  assert.deepEqual(d.differences, [{ path: 'l', what: 'target', backup: '\\xfe', live: '\\xfd' }]);
});
