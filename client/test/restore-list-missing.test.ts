/**
 * `deaddrop list` reports every volume a set should have and lacks, the last one included: it
 * reads the set's plaintext sums file and, for an unencrypted legacy set, its manifest (no key
 * needed); the names alone only show holes among the volumes found.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { readCatalog } from '@deaddrop/client/restore/catalog';
import { listSets } from '@deaddrop/client/restore/list';
import type { RestoreSource } from '@deaddrop/client/restore/source';

/** A host directory in memory; `undefined` content: listed, but not to be read. */
function memSource(files: Record<string, string | undefined>): RestoreSource {
  const get = async (name: string) => {
    const text = files[name];
    if (text === undefined) throw new Error(`${name} should not be read`);
    return Buffer.from(text, 'latin1');
  };
  return {
    where: 'mem',
    list: async () => new Map(Object.entries(files).map(([n, t]) => [n, t?.length ?? 1])),
    open: async (name) => Readable.from([await get(name)]),
    readSmall: get,
    close: () => {},
  };
}

const sum = (...names: string[]) => names.map((n) => `${'ab'.repeat(32)}  ${n}\n`).join('');
const vol = (n: number) =>
  `Volume ${n}:\n    StartingPath   a  \n    EndingPath     b  \n    Hash SHA1 ${'cd'.repeat(20)}\n`;

const T1 = '20261101T031500Z';
const T2 = '20261102T031500Z';
const T3 = '20261103T031500Z';

async function missingOf(files: Record<string, string | undefined>): Promise<string[][]> {
  const listing = await listSets(await readCatalog(memSource(files)), 'h');
  return listing.chains.flatMap((c) => c.sets.map((s) => s.missing));
}

test('a deaddrop set whose last volume is gone: the sums file names it', async () => {
  const full = `duplicity-full.${T1}`;
  const names = [`${full}.manifest.p7m`, `${full}.vol1.difftar.gz.p7m`, `${full}.vol2.difftar.gz.p7m`];
  const files: Record<string, string | undefined> = {
    [`deaddrop-full.${T1}.sha256sums`]: sum(...names, `${full}.vol3.difftar.gz.p7m`),
  };
  for (const n of names) files[n] = undefined;
  assert.deepEqual(await missingOf(files), [['volume 3']]);
  files[`${full}.vol3.difftar.gz.p7m`] = undefined;
  assert.deepEqual(await missingOf(files), [[]]);
});

test('an unencrypted legacy set whose last volume is gone: its manifest names it', async () => {
  const files: Record<string, string | undefined> = {
    [`duplicity-full.${T1}.manifest`]: `Hostname h\n${vol(1)}${vol(2)}`,
    [`duplicity-full.${T1}.vol1.difftar.gz`]: undefined,
    // an incremental, complete; and one whose manifest lists no volume (cut short)
    [`duplicity-inc.${T1}.to.${T2}.manifest`]: vol(1),
    [`duplicity-inc.${T1}.to.${T2}.vol1.difftar.gz`]: undefined,
    [`duplicity-inc.${T2}.to.${T3}.manifest`]: '',
    [`duplicity-inc.${T2}.to.${T3}.vol1.difftar.gz`]: undefined,
  };
  assert.deepEqual(await missingOf(files), [
    ['volume 2'],
    [],
    [`a valid manifest (duplicity-inc.${T2}.to.${T3}.manifest: corrupt manifest: it lists no volume)`],
  ]);
});

test('a gpg-encrypted legacy manifest is not read: names only', async () => {
  const files = {
    [`duplicity-full.${T1}.manifest.gpg`]: undefined,
    [`duplicity-full.${T1}.vol1.difftar.gpg`]: undefined,
    [`duplicity-full.${T1}.vol3.difftar.gpg`]: undefined,
  };
  assert.deepEqual(await missingOf(files), [['volume 2']]);
});
