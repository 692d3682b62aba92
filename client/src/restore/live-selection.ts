/**
 * Which objects of a live tree a backup would have taken, for `deaddrop verify`. An object of
 * the live tree that the backup lacks is a difference (`extra`) only when the host's selection
 * takes it (scan/select.ts: inside or above a source, not excluded, not the archive directory,
 * never /proc /sys /dev /run; with one file system per source, no directory of another file
 * system). Otherwise verify of a host that backs up /etc and /srv against its `/` reported all
 * of /usr, and every host's /proc, as differences. The live tree stands for the backup root:
 * LIVE/etc is the host's /etc in a backup of `/`.
 */
import { statSync, type Stats } from 'node:fs';
import type { Selection } from '../scan/select.js';

/** `rel`: the object's path below the live tree (raw bytes); `st`: its lstat. */
export type TakenByBackup = (rel: Buffer, st: Stats) => boolean;

const SLASH = Buffer.from('/');

function below(dir: Buffer, rel: Buffer): Buffer {
  return rel.length === 0 ? dir : Buffer.concat([dir, SLASH, rel]);
}

/**
 * The filter for `live` under `selection`; `leaveOut` are paths below `live` that are never
 * taken (verify's own restore, when it lies in the live tree).
 */
export function takenByBackup(
  selection: Selection,
  live: Buffer,
  opts: { oneFileSystem: boolean; leaveOut?: Buffer[] },
): TakenByBackup {
  const root = Buffer.from(selection.root);
  const onHost = (rel: Buffer) => (root.length === 1 ? Buffer.concat([root, rel]) : below(root, rel));
  /** A source's path in the live tree: the part below the backup root, under `live`. */
  const inLive = (source: Buffer) => below(live, source.subarray(root.length === 1 ? 1 : root.length + 1));
  const devices = new Map<string, number | undefined>();
  const deviceOf = (source: Buffer) => {
    const key = source.toString('latin1');
    if (!devices.has(key)) devices.set(key, tryStat(inLive(source))?.dev);
    return devices.get(key);
  };
  const leaveOut = opts.leaveOut ?? [];
  return (rel, st) => {
    if (leaveOut.some((l) => l.equals(rel))) return false;
    const path = onHost(rel);
    const { inside, above } = selection.relation(path);
    if (!inside && !above) return false;
    if (selection.excluded(path)) return false;
    if (inside && opts.oneFileSystem && st.isDirectory()) {
      const source = selection.deepestSource(path);
      const dev = source && deviceOf(source);
      if (dev !== undefined && st.dev !== dev) return false; // another file system's mount point
    }
    return true;
  };
}

function tryStat(path: Buffer): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
