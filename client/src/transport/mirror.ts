/**
 * Put one local file to several sinks at once, reading it once: a single read stream is teed
 * to every sink's PUT. Only a retry (a sink that failed an attempt) opens the file again, for
 * that sink alone; the others carry on from the shared stream.
 */
import { createReadStream } from 'node:fs';
import { pipeline, Transform, type Readable } from 'node:stream';
import type { SinkTargetLike } from './file-target.js';
import { teeStream } from './tee.js';

export type PutOutcome = { ok: true; outcome: 'created' | 'exists' } | { ok: false; error: unknown };

const READ_CHUNK = 256 * 1024;

export async function putMirrored(
  path: string,
  remoteName: string,
  size: number,
  targets: SinkTargetLike[],
  onRead?: (bytes: number) => void,
): Promise<PutOutcome[]> {
  const counted = readCounter(onRead);
  const open = () => counted(createReadStream(path, { highWaterMark: READ_CHUNK }));
  const branches = targets.length > 1 ? teeStream(open(), targets.length) : [];
  return Promise.all(
    targets.map(async (target, i) => {
      let first: Readable | undefined = branches[i];
      const body = () => {
        const b = first ?? open();
        first = undefined;
        return b;
      };
      try {
        return { ok: true as const, outcome: await target.put(remoteName, body, size) };
      } catch (error) {
        return { ok: false as const, error };
      } finally {
        // A branch the target never read (an early refusal) must not hold the other sinks back.
        branches[i]?.destroy();
      }
    }),
  );
}

/**
 * Wraps each read stream of one file so `onRead` hears of new bytes only: a retry reads the
 * file again from the start, and that counts only once it goes past the furthest read so far.
 */
function readCounter(onRead: ((bytes: number) => void) | undefined): (s: Readable) => Readable {
  if (!onRead) return (s) => s;
  let furthest = 0;
  return (source) => {
    let at = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        at += chunk.length;
        if (at > furthest) {
          onRead(at - furthest);
          furthest = at;
        }
        cb(null, chunk);
      },
    });
    pipeline(source, counter, () => {}); // an error or an early destroy on either side ends both
    return counter;
  };
}
