/**
 * Names of one set's files: the plain duplicity names (local cache), the stored names
 * (`.gz.p7m` / `.p7m`) and the sums file, in upload order.
 */
import {
  fullManifestName,
  fullSignaturesName,
  fullVolumeName,
  incManifestName,
  incVolumeName,
  newSignaturesName,
  setKey,
  storedName,
  sumsFileName,
} from '../format/names.js';

export interface SetNames {
  key: string;
  type: 'full' | 'inc';
  time: number;
  startTime?: number;
  storedVolume(n: number): string;
  storedSignatures: string;
  storedManifest: string;
  sums: string;
  /** Local cache names (duplicity's: manifest plain, sigtar always .gz). */
  cacheManifest: string;
  cacheSignatures: string;
}

export function setNames(type: 'full' | 'inc', time: number, startTime?: number): SetNames {
  const inc = type === 'inc';
  const manifest = inc ? incManifestName(startTime!, time) : fullManifestName(time);
  const sigtar = inc ? newSignaturesName(startTime!, time) : fullSignaturesName(time);
  return {
    key: setKey(inc ? { set: 'inc', time, startTime: startTime! } : { set: 'full', time }),
    type,
    time,
    ...(inc ? { startTime } : {}),
    storedVolume: (n) =>
      storedName(inc ? incVolumeName(startTime!, time, n) : fullVolumeName(time, n), { gzip: true, cms: true }),
    storedSignatures: storedName(sigtar, { gzip: true, cms: true }),
    storedManifest: storedName(manifest, { cms: true }),
    sums: sumsFileName(time, inc ? startTime : undefined),
    cacheManifest: manifest,
    cacheSignatures: storedName(sigtar, { gzip: true }),
  };
}
