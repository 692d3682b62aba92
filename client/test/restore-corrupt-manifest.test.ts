/**
 * A manifest that lists no volume is damage (duplicity and deaddrop always write volume 1): it
 * is refused naming the file, never read as a set that changes nothing: restore treats the
 * set as incomplete (left out with a warning at the end of the chain, refused for a --time
 * that needs it).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseManifest } from '@deaddrop/client/format/manifest';
import { missingTools, runCommand, runDeaddrop, tempDir } from '@deaddrop/test';

test('a manifest without any volume is refused as corrupt, naming the file', () => {
  for (const text of ['', 'Hostname h\nLocaldir /src\n', '\x85\x02\x0c\x03garbage\n', 'Filelist 1\n    new  a\n'])
    assert.throws(
      () => parseManifest(Buffer.from(text, 'latin1'), 'duplicity-full.20261101T031500Z.manifest'),
      /^DeaddropError: duplicity-full\.20261101T031500Z\.manifest: corrupt manifest: it lists no volume/,
    );
});

test(
  'a legacy incremental whose manifest is empty: treated as incomplete, never as a set without changes',
  { skip: missingTools('duplicity'), timeout: 120_000 },
  async () => {
    const tmp = tempDir('deaddrop-restore-emptymanifest-');
    const src = join(tmp, 'src');
    mkdirSync(src);
    const target = join(tmp, 'legacy');
    const env = { ...process.env, HOME: tmp };
    const times: string[] = [];
    for (const [i, kind] of ['full', 'incremental'].entries()) {
      writeFileSync(join(src, 'f'), `v${i + 1}\n`);
      if (i > 0) await new Promise((r) => setTimeout(r, 1100)); // duplicity times are whole seconds
      const d = await runCommand('duplicity', [kind, '--no-encryption', '--archive-dir', join(tmp, 'cache'), src,
        `file://${target}`], { env }); // prettier-ignore
      assert.equal(d.code, 0, d.stdout + d.stderr);
      times.push(
        readdirSync(target)
          .map((n) => /(\d{8}T\d{6}Z)\.manifest$/.exec(n)?.[1] ?? '')
          .sort()
          .pop()!,
      );
    }
    const inc = readdirSync(target).find((n) => n.startsWith('duplicity-inc.') && n.endsWith('.manifest'))!;
    writeFileSync(join(target, inc), ''); // e.g. a copy cut short

    const latest = await runDeaddrop([
      'restore',
      '--from',
      target,
      '--host',
      hostname(),
      '--to',
      join(tmp, 'out1'),
      '--json',
    ]);
    assert.equal(latest.code, 0, latest.stderr);
    const report = JSON.parse(latest.stdout) as { time: string; warnings: string[] };
    assert.equal(report.time.replace(/[-:]/g, ''), times[0]);
    assert.ok(
      report.warnings.some((w) => /^set inc\..* is incomplete/.test(w)),
      latest.stdout,
    );
    assert.equal(readFileSync(join(tmp, 'out1', 'f'), 'utf8'), 'v1\n');

    const at = await runDeaddrop(['restore', '--from', target, '--host', hostname(), '--to', join(tmp, 'out2'), '--time',
      times[1]!]); // prettier-ignore
    assert.equal(at.code, 1, at.stderr);
    assert.ok(at.stderr.includes(`${inc} lists no volume`), at.stderr);
    assert.match(at.stderr, /is incomplete: .*--time /);
  },
);
