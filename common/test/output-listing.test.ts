/**
 * A listing written as it comes (jsonListing, stdoutPieces) is byte for byte what printJson
 * writes for the whole document, and waits while its output is full.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { jsonListing, stdoutPieces } from '@deaddrop/common/output';

/** The bytes written to a stream that reads slowly (a small buffer, drained on the next tick). */
function slowOutput(): { out: PassThrough; text: () => string; waits: () => number } {
  const out = new PassThrough({ highWaterMark: 1024 });
  const chunks: Buffer[] = [];
  let waits = 0;
  const write = out.write.bind(out);
  out.write = ((chunk: string) => {
    const ok = write(chunk);
    if (!ok) waits++;
    return ok;
  }) as typeof out.write;
  out.on('data', (c: Buffer) => {
    out.pause();
    chunks.push(c);
    setImmediate(() => out.resume());
  });
  return { out, text: () => Buffer.concat(chunks).toString('utf8'), waits: () => waits };
}

const printed = (value: unknown) => JSON.stringify(value, null, 2) + '\n';

test('the streamed document is the one printJson writes', async () => {
  const items = [
    { path: 'a', size: 1, target: undefined },
    { path: 'caf\\xe9 "quoted"\nnewline', nested: { list: [1, 2], empty: [] as number[] }, mode: 0o644 },
    { path: '日本語', n: null },
  ];
  const heads: Record<string, unknown>[] = [{}, { host: 'h1', time: 'T', root: undefined }, { host: 'h1', root: '/' }];
  for (const head of heads)
    for (const list of [[], items.slice(0, 1), items]) {
      const o = slowOutput();
      const listing = jsonListing<unknown>(head, 'files', stdoutPieces(o.out));
      for (const item of list) await listing.add(item);
      await listing.end();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(o.text(), printed({ ...head, files: list }), JSON.stringify({ head, n: list.length }));
    }
});

test('a long listing goes out in pieces and waits for its reader', async () => {
  const o = slowOutput();
  const listing = jsonListing<{ path: string; size: number }>({ host: 'h1' }, 'files', stdoutPieces(o.out));
  const items = Array.from({ length: 20_000 }, (_, i) => ({ path: `dir/file-${i}`, size: i }));
  for (const item of items) await listing.add(item);
  await listing.end();
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(o.waits() > 0, 'stdout filled up and the writer waited');
  assert.equal(o.text(), printed({ host: 'h1', files: items }));
});
