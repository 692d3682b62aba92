/**
 * The restore's file-making addon (client/native/stage.c, built with the client's other
 * addons): small files made in batches on libuv's thread pool (restore/stage-files.ts), and a
 * big file's pieces written there, pushed to disk and dropped from the page cache as they go
 * (restore/write-behind.ts). Where it is not built, or DEADDROP_POOL=off, the restore does
 * without: its main thread makes the files and node:fs writes the pieces.
 */
import { loadAddon } from './load-addon.js';

export type StageBatch = { readonly __batch: unique symbol };

export interface StageAddon {
  batch(): StageBatch;
  add(
    batch: StageBatch,
    path: string,
    data: Uint8Array,
    hole: boolean,
    size: number,
    mode: number,
    uid: number,
    gid: number,
    mtime: number,
  ): number;
  submit(batch: StageBatch, done: (err?: Error) => void): void;
  /**
   * data[0, length) written at `position`, its writeback started; then, unless settleFrom is -1,
   * the file's bytes [settleFrom, settleTo) waited for on their way to disk and dropped from the
   * page cache. `data` must not change until done. (An addon built before it has none.)
   */
  writeOut?(
    fd: number,
    data: Uint8Array,
    length: number,
    position: number,
    settleFrom: number,
    settleTo: number,
    done: (err?: Error) => void,
  ): void;
}

/** The addon, or null where it is not built or DEADDROP_POOL=off. */
export function stageAddon(): StageAddon | null {
  return loadAddon<StageAddon>('stage', process.env.DEADDROP_POOL === 'off');
}
