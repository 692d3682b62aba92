/**
 * Mirrored delivery with real nginx (+ dav-ext, the config `deaddrop sink nginx-config` prints)
 * as one mirror and the embedded sink as the other: identical files, sha256sum -c, nginx down
 * for a run and caught up, and nginx's own access log shows only PUT and PROPFIND.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { isRoot, missingTools, startEmbeddedSink, startNginxSink } from '@deaddrop/test';
import {
  assertNoHalfSets,
  assertSumsVerify,
  backup,
  HOST,
  makeHost,
  PASSWORD,
  sinkContents,
} from './mirror-helpers.js';

const skip =
  missingTools('nginx', 'sha256sum', 'openssl') || (isRoot ? false : 'nginx test wrapper runs workers as root');

test(
  'nginx + embedded sink: identical sets, nginx down for a run and caught up, no GET/HEAD/DELETE',
  { skip },
  async () => {
    const embedded = await startEmbeddedSink({ hosts: { [HOST]: PASSWORD } });
    const nginx = await startNginxSink({ hosts: { [HOST]: PASSWORD } });
    const host = await makeHost([
      { name: 'embedded', url: `${embedded.url}${HOST}/` },
      { name: 'nginx', url: `${nginx.url}${HOST}/` },
    ]);
    try {
      const full = await backup(host);
      assert.equal(full.code, 0, full.run.stderr);
      await nginx.stop();
      host.change(1);
      const down = await backup(host);
      assert.equal(down.code, 4, down.run.stderr);
      assertNoHalfSets(join(nginx.root, HOST));
      await nginx.restart();
      host.change(2);
      const up = await backup(host);
      assert.equal(up.code, 0, up.run.stderr);
      assert.deepEqual(up.result.delivery.nginx.confirmed, [down.result.set, up.result.set]);

      const a = sinkContents(join(embedded.root, HOST));
      assert.equal([...a.keys()].filter((n) => n.endsWith('.sha256sums')).length, 3);
      assert.deepEqual(sinkContents(join(nginx.root, HOST)), a);
      assertSumsVerify(join(embedded.root, HOST));
      assertSumsVerify(join(nginx.root, HOST));
      for (const s of [embedded, nginx]) {
        const methods = new Set(s.methodsLog());
        assert.ok(methods.has('PUT') && methods.has('PROPFIND'));
        for (const m of methods) assert.ok(m === 'PUT' || m === 'PROPFIND', `${s.kind}: client sent ${m}`);
      }
    } finally {
      await embedded.stop();
      await nginx.stop();
    }
  },
);
