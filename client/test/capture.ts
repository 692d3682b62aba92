/** A writable stream that keeps what it is given, posing as a terminal or not (progress tests). */
import { Writable } from 'node:stream';

export function captureStream(isTTY: boolean) {
  let out = '';
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString('utf8');
        cb();
      },
    }),
    { isTTY },
  );
  return { stream, text: () => out };
}
