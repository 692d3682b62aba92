/**
 * A manifest's Filelist block is cut out as the text streams in, wherever the chunks break:
 * after the volumes (ours) or before them (manifest.py's to_string), keys in any case, lines
 * without a final newline, and chunks whose buffer is reused once taken.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withoutFilelist } from '@deaddrop/client/restore/without-filelist';

const HEAD = 'Hostname h1\nLocaldir /\n';
const VOLUMES =
  'Volume 1:\n    StartingPath   .\n    EndingPath     etc/hosts\n    Hash SHA1 0123\n' +
  'Volume 2:\n    StartingPath   etc/hosts\n    EndingPath     var\n    Hash SHA1 4567\n';
const FILELIST = 'Filelist 3\n    new      etc/hosts\n    changed  volume/x\n    deleted  filelist\n';

/** The text in chunks of `size` bytes, each copied into one buffer that the next overwrites. */
async function* reusedChunks(text: string, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text, 'latin1');
  const buf = Buffer.alloc(size);
  for (let at = 0; at < bytes.length; at += size) {
    const n = bytes.copy(buf, 0, at, at + size);
    yield buf.subarray(0, n);
    buf.fill(0x21); // what a reused decrypt buffer does to the bytes handed out before
  }
}

const cases: [string, string, string][] = [
  ['ours: the Filelist last', HEAD + VOLUMES + FILELIST, HEAD + VOLUMES],
  ["manifest.py's order: the Filelist first", HEAD + FILELIST + VOLUMES, HEAD + VOLUMES],
  ['no Filelist', HEAD + VOLUMES, HEAD + VOLUMES],
  [
    'keys in another case, no final newline',
    'HOSTNAME h1\nFILELIST 1\n    new      a\nvOlUmE 1:\n    Hash SHA1 89ab',
    'HOSTNAME h1\nvOlUmE 1:\n    Hash SHA1 89ab',
  ],
  [
    'a last line cut short before its key is whole: not a Filelist line',
    HEAD + VOLUMES + 'Filel',
    HEAD + VOLUMES + 'Filel',
  ],
  ['an empty Filelist at the end, without a newline', HEAD + VOLUMES + 'Filelist 0', HEAD + VOLUMES],
  ['a short last line', HEAD + 'V', HEAD + 'V'],
  ['nothing', '', ''],
];

test('the Filelist block goes, the rest stays byte for byte, at every chunk size', async () => {
  for (const [what, input, expected] of cases)
    for (const size of [1, 2, 3, 5, 7, 8, 9, 13, 64, 4096]) {
      const out = await withoutFilelist(reusedChunks(input, size));
      assert.equal(out.toString('latin1'), expected, `${what}, chunks of ${size}`);
    }
});

test('a long Filelist line is dropped as it comes, not gathered', async () => {
  const path = 'd/'.repeat(500_000); // one line of 1 MB
  const input = HEAD + VOLUMES + `Filelist 1\n    new      ${path}\n`;
  const out = await withoutFilelist(reusedChunks(input, 65_536));
  assert.equal(out.toString('latin1'), HEAD + VOLUMES);
});
