/**
 * Duplicity 0.8.22 manifests (formats §4): written exactly as a backup run writes them
 * (Hostname, Localdir, one block per volume, then Filelist), read as manifest.py reads them
 * (case-insensitive fields, either order, restarted volume lists). Bytes in, bytes out: paths
 * may be any bytes.
 */
import { DeaddropError } from '@deaddrop/common/errors';
import { bytesToIndex, indexToBytes, type PathIndex } from '../scan/path-index.js';
import { quote, unquote } from './quote.js';

export interface ManifestVolume {
  /** Volume number, 1-based. */
  number: number;
  /** Index of the first entry in the volume, and its multivol chunk number unless it is a final chunk. */
  start: PathIndex;
  startBlock?: number;
  end: PathIndex;
  endBlock?: number;
  /** Hash name as written (`SHA1`, `MD5`, …) → lowercase hex. */
  hashes: Record<string, string>;
}

export type FileChange = 'new' | 'changed' | 'deleted';

export interface ManifestFile {
  change: FileChange;
  path: PathIndex;
}

export interface Manifest {
  /** The host name duplicity compares before an incremental. */
  hostname?: string;
  /** The canonical source directory (bytes). */
  localdir?: Buffer;
  /** In manifest order (restarts resolved: see parseManifest). */
  volumes: ManifestVolume[];
  /** Regular files new, changed or deleted in the set; empty when the manifest has no Filelist. */
  files: ManifestFile[];
}

const NL = Buffer.from('\n');

function pathLine(label: string, index: PathIndex, block: number | undefined): Buffer {
  return Buffer.concat([
    Buffer.from(label),
    quote(indexToBytes(index)),
    Buffer.from(block === undefined ? '  \n' : ` ${block}\n`),
  ]);
}

/** One `Volume N:` block (what duplicity appends after each volume). */
export function formatVolume(v: ManifestVolume): Buffer {
  const hashes = Object.entries(v.hashes).map(([name, hex]) => Buffer.from(`    Hash ${name} ${hex}\n`));
  return Buffer.concat([
    Buffer.from(`Volume ${v.number}:\n`),
    pathLine('    StartingPath   ', v.start, v.startBlock),
    pathLine('    EndingPath     ', v.end, v.endBlock),
    ...hashes,
  ]);
}

/** The Hostname and Localdir lines a backup writes first. */
export function formatManifestHead(m: Pick<Manifest, 'hostname' | 'localdir'>): Buffer {
  const parts: Buffer[] = [];
  if (m.hostname !== undefined) parts.push(Buffer.from(`Hostname ${m.hostname}\n`));
  if (m.localdir !== undefined) parts.push(Buffer.from('Localdir '), quote(m.localdir), NL);
  return Buffer.concat(parts);
}

/** The Filelist block written after the volumes. */
export function formatFilelist(files: ManifestFile[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`Filelist ${files.length}\n`)];
  for (const f of files) parts.push(Buffer.from(`    ${f.change.padEnd(7)}  `), quote(indexToBytes(f.path)), NL);
  return Buffer.concat(parts);
}

/** A whole manifest in the order a backup run writes it. */
export function formatManifest(m: Manifest): Buffer {
  return Buffer.concat([formatManifestHead(m), ...m.volumes.map(formatVolume), formatFilelist(m.files)]);
}

// ---- reading ----

function lines(text: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (;;) {
    const i = text.indexOf(0x0a, start);
    if (i < 0) {
      if (start < text.length) out.push(text.subarray(start));
      return out;
    }
    out.push(text.subarray(start, i));
    start = i + 1;
  }
}

/** Python's bytes.split(): runs of ASCII whitespace separate fields. */
function fields(line: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = -1;
  for (let i = 0; i <= line.length; i++) {
    const ws = i === line.length || line[i] === 0x20 || (line[i]! >= 0x09 && line[i]! <= 0x0d);
    if (ws && start >= 0) {
      out.push(line.subarray(start, i));
      start = -1;
    } else if (!ws && start < 0) start = i;
  }
  return out;
}

const lower = (b: Buffer | undefined): string => (b ? b.toString('latin1').toLowerCase() : '');

function parseBlock(text: Buffer | undefined, where: string): number | undefined {
  if (text === undefined) return undefined;
  const s = text.toString('latin1');
  if (!/^\d+$/.test(s)) throw new DeaddropError(`${where}: block number "${s}" is not a number`);
  return Number(s);
}

/** A manifest that lists no volume: damaged (cut short, emptied, or not a manifest at all). */
export class NoVolumeError extends DeaddropError {}

/**
 * Parse a manifest. Errors name `source` and the line. Like duplicity: Hostname/Localdir are
 * found anywhere, a block runs from `Volume N:` to the next `Volume` line, a volume listed
 * again replaces the earlier one and drops every higher number seen before it (a restarted
 * run lists 1,2,3,2; volumes come back sorted by number), and a volume without both paths is an error. A volume without any Hash
 * is an error too (duplicity would crash restoring it), and so is a manifest without any volume:
 * every set has volume 1 (an empty tar when nothing changed), so it is a cut or garbage file.
 */
export function parseManifest(bytes: Uint8Array, source = 'manifest'): Manifest {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const m: Manifest = { volumes: [], files: [] };
  const byNumber = new Map<number, ManifestVolume>();
  let current: (Partial<ManifestVolume> & { line: number }) | undefined;
  let inFilelist = false;

  const finishVolume = () => {
    if (!current) return;
    const where = `${source}: line ${current.line}`;
    if (!current.start || !current.end) throw new DeaddropError(`${where}: volume ${current.number} lacks a path`);
    if (Object.keys(current.hashes!).length === 0)
      throw new DeaddropError(`${where}: volume ${current.number} has no Hash line`);
    const v: ManifestVolume = {
      number: current.number!,
      start: current.start,
      end: current.end,
      hashes: current.hashes!,
    };
    if (current.startBlock !== undefined) v.startBlock = current.startBlock;
    if (current.endBlock !== undefined) v.endBlock = current.endBlock;
    for (const n of [...byNumber.keys()]) if (n > v.number) byNumber.delete(n);
    byNumber.set(v.number, v);
    current = undefined;
  };

  lines(text).forEach((line, i) => {
    const where = `${source}: line ${i + 1}`;
    const f = fields(line);
    const key = lower(f[0]);
    if (key === '') return;
    const rest = () => {
      const at = line.indexOf(f[0]!) + f[0]!.length;
      return unquote(line.subarray(at + 1), where);
    };
    if (key === 'volume') {
      finishVolume();
      inFilelist = false;
      const mm = /^volume\s*(\d+):/i.exec(line.toString('latin1').trim());
      if (!mm) throw new DeaddropError(`${where}: bad volume line "${line.toString('latin1')}"`);
      current = { number: Number(mm[1]), hashes: {}, line: i + 1 };
      return;
    }
    if (key === 'hostname' && !current && !inFilelist) {
      m.hostname = rest().toString('utf8');
      return;
    }
    if (key === 'localdir' && !current && !inFilelist) {
      m.localdir = rest();
      return;
    }
    if (key === 'filelist') {
      finishVolume();
      inFilelist = true;
      return;
    }
    if (inFilelist) {
      if ((key === 'new' || key === 'changed' || key === 'deleted') && f.length >= 2)
        m.files.push({ change: key, path: bytesToIndex(unquote(f[1]!, where)) });
      return;
    }
    if (!current) return; // unknown top-level lines are ignored, as duplicity does
    if (key === 'startingpath' || key === 'endingpath') {
      if (!f[1]) throw new DeaddropError(`${where}: ${f[0]!.toString('latin1')} without a path`);
      const index = bytesToIndex(unquote(f[1], where));
      const block = parseBlock(f[2], where);
      if (key === 'startingpath') {
        current.start = index;
        current.startBlock = block;
      } else {
        current.end = index;
        current.endBlock = block;
      }
    } else if (key === 'hash') {
      if (!f[1] || !f[2]) throw new DeaddropError(`${where}: Hash line needs a name and a value`);
      current.hashes![f[1].toString('latin1')] = f[2].toString('latin1').toLowerCase();
    }
  });
  finishVolume();
  if (byNumber.size === 0) throw new NoVolumeError(`${source}: corrupt manifest: it lists no volume`);
  m.volumes = [...byNumber.values()].sort((a, b) => a.number - b.number);
  return m;
}

export interface VolumeHash {
  /** node:crypto's name for it. */
  algorithm: 'sha1' | 'md5';
  /** Lowercase hex. */
  hex: string;
}

/**
 * The hash a volume must have, in duplicity's order (manifest.py get_best_hash: SHA1, else
 * MD5), or undefined when the manifest gives neither. We write SHA1; MD5 is for old sets.
 */
export function volumeHash(v: ManifestVolume): VolumeHash | undefined {
  for (const algorithm of ['sha1', 'md5'] as const)
    for (const [name, hex] of Object.entries(v.hashes)) if (name.toLowerCase() === algorithm) return { algorithm, hex };
  return undefined;
}
