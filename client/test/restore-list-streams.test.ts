/**
 * `list --files` writes its lines as it reads the volumes: a set whose last volume is damaged
 * lists what the volumes before it hold, then fails naming the damaged one (exit 1), as `tar
 * tv` does on a damaged archive. The whole listing is what a sound copy gives.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, runDeaddrop, tempDir } from '@deaddrop/test';
import { copyHostDir, makeChain } from './restore-helpers.js';

test(
  'list --files: lines as the volumes are read, then the damaged one named',
  { skip: missingTools('cp'), timeout: 300_000 },
  async () => {
    const tmp = tempDir('deaddrop-list-streams-');
    const chain = await makeChain(tmp, { incrementals: 0, volumeSize: '96KiB', sinks: 1 });
    const list = (from: string) =>
    runDeaddrop(['list', '--files', '--from', from, '--host', 'testhost', '--key', chain.key.keyPath,
      '--passphrase-file', chain.key.passphraseFile]); // prettier-ignore

    const whole = await list(chain.sinks[0]!);
    assert.equal(whole.code, 0, whole.stderr);
    const all = whole.stdout.trim().split('\n');

    const host = copyHostDir(chain, tmp);
    const volumes = readdirSync(host)
      .filter((n) => /\.vol\d+\.difftar\.gz\.p7m$/.test(n))
      .sort((a, b) => Number(/vol(\d+)/.exec(a)![1]) - Number(/vol(\d+)/.exec(b)![1]));
    assert.ok(volumes.length >= 4, `several volumes (${volumes.length})`);
    const last = volumes[volumes.length - 1]!;
    const bytes = readFileSync(join(host, last));
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(join(host, last), bytes);

    const cut = await list(host);
    assert.equal(cut.code, 1, cut.stdout + cut.stderr);
    assert.ok(cut.stderr.includes(last), cut.stderr);
    const lines = cut.stdout.trim().split('\n');
    assert.ok(lines.length > 0 && lines.length < all.length, `${lines.length} of ${all.length} lines`);
    assert.deepEqual(lines, all.slice(0, lines.length), 'the lines before the damage are those of the whole listing');
  },
);
