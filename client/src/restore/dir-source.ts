/**
 * A host directory on disk: a sink's root (DIR/HOST/...), a copy of it, or the host directory
 * itself. Only regular files in it are set files: a symlink named like one (to /etc/passwd,
 * say) is not followed, and is named at debug level.
 */
import { once } from 'node:events';
import { createReadStream, lstatSync, readdirSync, type Stats } from 'node:fs';
import { open, readFile, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { BufferRing } from '@deaddrop/common/buffer-ring';
import { UsageError } from '@deaddrop/common/errors';
import { parseSinkName } from '../format/names.js';
import type { RestoreSource } from './source.js';

const READ_SIZE = 256 * 1024;

async function isDir(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** DIR/HOST when it exists, else DIR itself when it holds set files (`named`: --from is the host directory). */
export async function hostDirectory(from: string, host: string): Promise<{ dir: string; named: boolean }> {
  if (await isDir(join(from, host))) return { dir: join(from, host), named: false };
  if (!(await isDir(from))) throw new UsageError(`--from ${from}: not a directory`);
  const names = await readdir(from);
  if (names.some((n) => parseSinkName(n)?.type === 'duplicity')) return { dir: from, named: true };
  throw new UsageError(`--from ${from}: no ${host}/ directory and no backup sets in it`);
}

const kindOf = (st: Stats): string =>
  st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : 'not a regular file';

export class DirSource implements RestoreSource {
  constructor(
    readonly where: string,
    private readonly debug: (message: string) => void = () => {},
    readonly dirName?: string,
  ) {}

  /** Synchronous lstats: one per name, far cheaper than a thread-pool round trip each. */
  async list(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    // lstat every name: some mounts (sshfs, older NFS) report no entry type in readdir
    for (const name of readdirSync(this.where)) {
      const st = lstatSync(join(this.where, name), { throwIfNoEntry: false });
      if (st?.isFile()) out.set(name, st.size);
      else if (st) this.debug(`${join(this.where, name)}: ${kindOf(st)}, ignored (set files are regular files)`);
    }
    return out;
  }

  async open(name: string): Promise<Readable> {
    const stream = createReadStream(join(this.where, name), { highWaterMark: READ_SIZE });
    // surface a missing or unreadable file here, not as the first chunk's error
    await once(stream, 'open');
    return stream;
  }

  async chunks(name: string): Promise<AsyncIterable<Buffer>> {
    const file = await open(join(this.where, name), 'r'); // a missing or unreadable file fails here
    return reusedReads(file);
  }

  readSmall(name: string): Promise<Buffer> {
    return readFile(join(this.where, name));
  }

  close(): void {}
}

/** Buffers of READ_SIZE reused in turn: one being read ahead, the chunk given out, the two before it. */
const RING = 4;

/**
 * A file's bytes in chunks read into RING buffers in turn, the next read under way while the
 * reader has the last: a chunk is overwritten when the reader asks for the third after it.
 */
async function* reusedReads(file: FileHandle): AsyncGenerator<Buffer> {
  const ring = new BufferRing(RING, READ_SIZE);
  const readInto = (slot: Buffer) => file.read(slot, 0, READ_SIZE, null).then((r) => slot.subarray(0, r.bytesRead));
  let ahead: Promise<Buffer> | undefined = readInto(ring.take());
  try {
    for (;;) {
      const chunk = await ahead;
      ahead = undefined;
      if (chunk.length === 0) return;
      ahead = readInto(ring.take());
      ahead.catch(() => {}); // seen when awaited (or dropped when the reader stops)
      yield chunk;
    }
  } finally {
    await ahead?.catch(() => {}); // not closed under a read
    await file.close();
  }
}

export async function openDirSource(from: string, host: string, debug?: (message: string) => void): Promise<DirSource> {
  const { dir, named } = await hostDirectory(from, host);
  return new DirSource(dir, debug, named ? basename(resolve(dir)) : undefined);
}
