/** A host directory on disk: a sink's root (DIR/HOST/...), a copy of it, or the host directory itself. */
import { once } from 'node:events';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { UsageError } from '@deaddrop/common/errors';
import { parseSinkName } from '../format/names.js';
import type { RestoreSource } from './source.js';

const READ_SIZE = 256 * 1024;

async function isDir(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** DIR/HOST when it exists, else DIR itself when it holds set files. */
export async function hostDirectory(from: string, host: string): Promise<string> {
  if (await isDir(join(from, host))) return join(from, host);
  if (!(await isDir(from))) throw new UsageError(`--from ${from}: not a directory`);
  const names = await readdir(from);
  if (names.some((n) => parseSinkName(n)?.type === 'duplicity')) return from;
  throw new UsageError(`--from ${from}: no ${host}/ directory and no backup sets in it`);
}

export class DirSource implements RestoreSource {
  constructor(readonly where: string) {}

  /** Synchronous stats: one per name, far cheaper than a thread-pool round trip each. */
  async list(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    // stat every name: some mounts (sshfs, older NFS) report no entry type in readdir
    for (const name of readdirSync(this.where)) {
      const st = statSync(join(this.where, name), { throwIfNoEntry: false });
      if (st?.isFile()) out.set(name, st.size);
    }
    return out;
  }

  async open(name: string): Promise<Readable> {
    const stream = createReadStream(join(this.where, name), { highWaterMark: READ_SIZE });
    // surface a missing or unreadable file here, not as the first chunk's error
    await once(stream, 'open');
    return stream;
  }

  readSmall(name: string): Promise<Buffer> {
    return readFile(join(this.where, name));
  }

  close(): void {}
}

export async function openDirSource(from: string, host: string): Promise<DirSource> {
  return new DirSource(await hostDirectory(from, host));
}
