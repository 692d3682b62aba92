/**
 * One source stream read once, fed to several consumers (one PUT per sink). The source is
 * paused while any live branch has a full buffer, so memory stays at about one highWaterMark
 * per branch and the pace is the slowest sink's. A branch that is destroyed (its sink failed)
 * is dropped and no longer holds the others back; when all are gone the source is closed.
 */
import { Readable } from 'node:stream';

export function teeStream(source: Readable, count: number): Readable[] {
  const live = new Set<Readable>();
  let ended = false;

  const maybeResume = () => {
    for (const b of live) if (b.readableLength >= b.readableHighWaterMark) return;
    if (!ended) source.resume();
  };

  const branches = Array.from({ length: count }, () => {
    const b: Readable = new Readable({
      highWaterMark: source.readableHighWaterMark,
      // Node calls read() before it takes the chunk it hands out off the buffer: look after that
      read: () => process.nextTick(maybeResume),
      destroy(err, cb) {
        live.delete(b);
        if (live.size === 0) source.destroy();
        else maybeResume();
        cb(err);
      },
    });
    // A branch whose sink has not started reading yet must not turn a read error into a crash;
    // its consumer still sees the error when it reads the destroyed branch.
    b.on('error', () => {});
    live.add(b);
    return b;
  });

  source.pause();
  source.on('data', (chunk: Buffer) => {
    let full = false;
    // Buffers are never modified downstream, so every branch can share the same chunk.
    for (const b of live) if (!b.push(chunk)) full = true;
    if (full) source.pause();
  });
  source.once('end', () => {
    ended = true;
    for (const b of live) b.push(null);
  });
  source.once('error', (err) => {
    for (const b of [...live]) b.destroy(err);
  });
  return branches;
}
