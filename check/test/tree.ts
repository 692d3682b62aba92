/**
 * Build sink trees for checker tests: sets the way deaddrop stores them (really CMS-encrypted
 * with a test recipient, `.gz.p7m` volumes/signatures, `.p7m` manifest, sums file last) and
 * snowflake files with `.sha256` companions. To check real `deaddrop backup` output instead,
 * copy its sink directory to ROOT/HOST and call the same checks.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { createEncryptStream, loadRecipients, type Recipient } from '@deaddrop/keys';
import {
  companionName,
  fullManifestName,
  fullSignaturesName,
  fullVolumeName,
  incManifestName,
  incVolumeName,
  newSignaturesName,
  snowflakeName,
  storedName,
  sumsFileName,
  type SnowflakeKind,
} from '@deaddrop/client/format/names';
import { formatSums } from '@deaddrop/client/format/sums';
import { makeTestRecipient } from '@deaddrop/test';

export const DAY = 86400;

export async function testRecipients(dir: string): Promise<Recipient[]> {
  const r = await makeTestRecipient(dir, { cn: 'checker test', bits: 2048 });
  return loadRecipients([r.certPath]);
}

export async function encrypt(recipients: Recipient[], data: Buffer): Promise<Buffer> {
  return buffer(Readable.from([data]).pipe(createEncryptStream(recipients)));
}

export interface SetSpec {
  /** Full: backup time. Incremental: end time. */
  time: number;
  /** Incremental: start time. */
  startTime?: number;
  volumes?: number;
  /** Plaintext bytes per volume (random, so ciphertext is about as big). */
  volumeBytes?: number;
}

/** Write one of our sets into hostDir; returns the stored names, sums file last. */
export async function writeOurSet(hostDir: string, recipients: Recipient[], spec: SetSpec): Promise<string[]> {
  mkdirSync(hostDir, { recursive: true });
  const inc = spec.startTime !== undefined;
  const plain: string[] = [];
  for (let n = 1; n <= (spec.volumes ?? 1); n++)
    plain.push(
      storedName(inc ? incVolumeName(spec.startTime!, spec.time, n) : fullVolumeName(spec.time, n), {
        gzip: true,
        cms: true,
      }),
    );
  plain.push(
    storedName(inc ? newSignaturesName(spec.startTime!, spec.time) : fullSignaturesName(spec.time), {
      gzip: true,
      cms: true,
    }),
  );
  plain.push(
    storedName(inc ? incManifestName(spec.startTime!, spec.time) : fullManifestName(spec.time), { cms: true }),
  );
  const entries = [];
  for (const name of plain) {
    const size = name.includes('.difftar') ? (spec.volumeBytes ?? 4000) : 300;
    const data = await encrypt(recipients, randomBytes(size));
    writeFileSync(join(hostDir, name), data);
    entries.push({ name, sha256: createHash('sha256').update(data).digest('hex') });
  }
  const sums = sumsFileName(spec.time, spec.startTime);
  writeFileSync(join(hostDir, sums), formatSums(entries));
  setMtime(hostDir, [...plain, sums], spec.time);
  return [...plain, sums];
}

/** A full at `full` and incrementals ending at each of `incs`, chained. */
export async function writeChain(
  hostDir: string,
  recipients: Recipient[],
  full: number,
  incs: number[],
  spec: Omit<SetSpec, 'time' | 'startTime'> = {},
): Promise<void> {
  await writeOurSet(hostDir, recipients, { ...spec, time: full });
  let start = full;
  for (const t of incs) {
    await writeOurSet(hostDir, recipients, { ...spec, time: t, startTime: start, volumeBytes: 1000 });
    start = t;
  }
}

/** A snowflake file and its companion (`<hex>  NAME`, what sha256sum prints). */
export async function writeSnowflake(
  hostDir: string,
  recipients: Recipient[],
  kind: SnowflakeKind,
  time: number,
  bytes = 3000,
  startTime?: number,
): Promise<string> {
  mkdirSync(hostDir, { recursive: true });
  const name = snowflakeName(kind, time, startTime);
  const data = await encrypt(recipients, randomBytes(bytes));
  writeFileSync(join(hostDir, name), data);
  writeFileSync(join(hostDir, companionName(name)), `${createHash('sha256').update(data).digest('hex')}  ${name}\n`);
  setMtime(hostDir, [name, companionName(name)], time);
  return name;
}

/** Files get the mtime of their backup, as on a real sink (ages of temp files use mtimes). */
export function setMtime(dir: string, names: string[], time: number): void {
  for (const n of names) utimesSync(join(dir, n), time, time);
}

/** Flip one byte `fromEnd` bytes before the end (inside the last ciphertext segment). */
export function flipByte(path: string, fromEnd = 20): void {
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, size - fromEnd);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, size - fromEnd);
  } finally {
    closeSync(fd);
  }
}

/** A fleet file at `path` for these hosts (sinks and recipients the check does not reach). */
export function writeFleet(path: string, hosts: object[], defaults?: object): string {
  writeFileSync(
    path,
    JSON.stringify({
      recipients: ['recipient.pem'],
      sinks: [{ name: 's', url: 'http://127.0.0.1:1/webdav/' }],
      hosts,
      ...(defaults ? { defaults } : {}),
    }),
  );
  return path;
}
