/**
 * Put one local file to one sink. A retry (an attempt that failed part way) opens the file
 * again; `onRead` hears only of bytes past the furthest read so far, so progress never steps
 * back. A target that can copy a file by path (a `file://` sink) copies it itself.
 */
import { createReadStream } from 'node:fs';
import { pipeline, Transform, type Readable } from 'node:stream';
import type { SinkTargetLike } from './file-target.js';

export type PutOutcome = { ok: true; outcome: 'created' | 'exists' } | { ok: false; error: unknown };

const READ_CHUNK = 256 * 1024;

export async function uploadFile(
  path: string,
  remoteName: string,
  size: number,
  target: SinkTargetLike,
  onRead?: (bytes: number) => void,
  /** Ends the upload early (see SinkTargetLike.put). */
  signal?: AbortSignal,
): Promise<PutOutcome> {
  const progress = readProgress(onRead);
  try {
    signal?.throwIfAborted();
    if (target.putFile) {
      const outcome = await target.putFile(remoteName, path, size);
      progress.reached(size);
      return { ok: true, outcome };
    }
    const body = () => progress.counted(createReadStream(path, { highWaterMark: READ_CHUNK }));
    return { ok: true, outcome: await target.put(remoteName, body, size, signal) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The bytes of one file read so far, over every attempt: `onRead` gets only new ones. */
function readProgress(onRead: ((bytes: number) => void) | undefined) {
  let furthest = 0;
  const reached = (at: number) => {
    if (at <= furthest) return;
    onRead?.(at - furthest);
    furthest = at;
  };
  const counted = (source: Readable): Readable => {
    if (!onRead) return source;
    let at = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        at += chunk.length;
        reached(at);
        cb(null, chunk);
      },
    });
    pipeline(source, counter, () => {}); // an error or an early destroy on either side ends both
    return counter;
  };
  return { counted, reached };
}
