/**
 * Put one local file to several sinks at once, reading it once: a single read stream is teed
 * to every sink's PUT. Only a retry (a sink that failed an attempt) opens the file again, for
 * that sink alone; the others carry on from the shared stream. A target that can copy a file
 * by path (a `file://` sink) copies it itself and takes no part in the stream.
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
  const progress = readProgress(onRead);
  const open = () => progress.counted(createReadStream(path, { highWaterMark: READ_CHUNK }));
  // targets that copy the file themselves (file:// sinks) take no branch of the shared stream
  const streamed = targets.filter((t) => !t.putFile);
  const branches = streamed.length > 1 ? teeStream(open(), streamed.length) : [];
  return Promise.all(
    targets.map(async (target) => {
      const branch = branches[streamed.indexOf(target)];
      let first: Readable | undefined = branch;
      const body = () => {
        const b = first ?? open();
        first = undefined;
        return b;
      };
      try {
        if (target.putFile) {
          const outcome = await target.putFile(remoteName, path, size);
          progress.reached(size);
          return { ok: true as const, outcome };
        }
        return { ok: true as const, outcome: await target.put(remoteName, body, size) };
      } catch (error) {
        return { ok: false as const, error };
      } finally {
        // A branch the target never read (an early refusal) must not hold the other sinks back.
        branch?.destroy();
      }
    }),
  );
}

/**
 * Counts the bytes of one file read so far, whoever reads them, so `onRead` hears of new bytes
 * only: a retry reads the file again from the start, and that counts only once it goes past
 * the furthest read so far; a target that copied the whole file reports it at once.
 */
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
