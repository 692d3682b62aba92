import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { generateRecipient, privateKeyPem, type GeneratedRecipient } from '@deaddrop/keys';
import type { RunResult } from './cli.js';

export interface TestRecipient {
  /** Self-signed recipient certificate (PEM). */
  certPath: string;
  /** The private key, encrypted PKCS#8 PEM (what `deaddrop keys generate` writes). */
  keyPath: string;
  passphrase: string;
  /** The passphrase in a file (mode 0600), for --passphrase-file. */
  passphraseFile: string;
  /** The same key, unencrypted PKCS#8 PEM, for openssl -inkey. */
  plainKeyPath: string;
}

/** Key pairs made in this process, by cn and size: RSA key generation is the slow part. */
const cache = new Map<string, Promise<GeneratedRecipient>>();

/**
 * A recipient certificate and key written into `dir` (files named after `cn`). The key pair is
 * made once per process for each cn/bits, so several tests share it cheaply.
 */
export async function makeTestRecipient(
  dir: string,
  opts: { cn?: string; bits?: number } = {},
): Promise<TestRecipient> {
  const cn = opts.cn ?? 'deaddrop test recipient';
  const bits = opts.bits ?? 3072;
  const id = `${cn}/${bits}`;
  if (!cache.has(id)) cache.set(id, generateRecipient({ cn, bits }));
  const generated = await cache.get(id)!;
  const base = join(dir, cn.replace(/[^A-Za-z0-9]+/g, '-'));
  mkdirSync(dir, { recursive: true });
  const passphrase = `test passphrase for ${cn}`;
  const files: TestRecipient = {
    certPath: `${base}.pem`,
    keyPath: `${base}.key`,
    passphrase,
    passphraseFile: `${base}.pass`,
    plainKeyPath: `${base}.plain.key`,
  };
  writeFileSync(files.certPath, generated.certificatePem);
  writeFileSync(files.keyPath, privateKeyPem(generated.privateKey, passphrase), { mode: 0o600 });
  writeFileSync(files.passphraseFile, passphrase + '\n', { mode: 0o600 });
  writeFileSync(files.plainKeyPath, privateKeyPem(generated.privateKey, null), { mode: 0o600 });
  return files;
}

/** Runs gpgsm with a throwaway home: `gpgsm(['--decrypt', '-o', out, file])`. */
export type GpgsmRunner = ((args: string[]) => Promise<RunResult>) & { home: string };

const P12_PASSPHRASE = 'gpgsm-test-passphrase';

/**
 * A throwaway GNUPGHOME holding the certificate and key (imported as a legacy-PBE PKCS#12,
 * which gpgsm 2.2 can read), trusted with `S relax` (a CA:FALSE self-signed cert) so
 * `gpgsm --encrypt` works too; passphrases go through loopback pinentry. `keyPassphrase` is
 * needed when `keyPath` is encrypted. The agent is stopped when the test file ends.
 */
export function makeGpgsmHome(dir: string, certPath: string, keyPath: string, keyPassphrase?: string): GpgsmRunner {
  const home = join(dir, `gnupg-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  writeFileSync(join(home, 'gpg-agent.conf'), 'allow-loopback-pinentry\n');
  after(() => {
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
  });
  const p12 = join(home, 'id.p12');
  const passin = keyPassphrase === undefined ? [] : ['-passin', `pass:${keyPassphrase}`];
  const base = ['--homedir', home, '--batch', '--pinentry-mode', 'loopback'];
  // gpgsm 2.2's PKCS#12 key derivation drops a byte when the sum I_j + B + 1 of RFC 7292 B.2
  // starts with 0x00 (its MPI is printed without the leading zero), so about one encrypted bag
  // in 128 fails to decrypt, depending on the random salt ("data error at
  // shrouded_key_bag.decrypted-text", or "error at outer.outer.seq" for the certificate bag).
  // The certificate bag is left unencrypted (it is public), and a failed import is retried with
  // a new export, which has a new salt.
  for (let attempt = 1; ; attempt++) {
    // gpgsm 2.2 can't read OpenSSL 3's default PKCS#12 (PBES2/AES): legacy PBE
    const exported = spawnSync('openssl', [
      'pkcs12', '-export', '-in', certPath, '-inkey', keyPath, ...passin,
      '-passout', `pass:${P12_PASSPHRASE}`, '-certpbe', 'NONE', '-keypbe', 'PBE-SHA1-3DES',
      '-macalg', 'sha1', '-out', p12,
    ]); // prettier-ignore
    if (exported.status !== 0) throw new Error(`openssl pkcs12 -export: ${exported.stderr.toString()}`);
    const imported = spawnSync('gpgsm', [...base, '--passphrase-fd', '0', '--import', p12], {
      input: P12_PASSPHRASE + '\n',
    });
    if (imported.status === 0) break;
    const why = imported.stderr.toString();
    if (attempt === 5 || !why.includes('decrypting the PKCS#12')) throw new Error(`gpgsm --import: ${why}`);
  }
  const fpr = spawnSync('openssl', ['x509', '-in', certPath, '-noout', '-fingerprint', '-sha1']).stdout.toString();
  writeFileSync(join(home, 'trustlist.txt'), `${fpr.split('=')[1]!.trim()} S relax\n`);
  spawnSync('gpgconf', ['--homedir', home, '--reload', 'gpg-agent']);
  const run = (args: string[]): Promise<RunResult> =>
    new Promise((resolve, reject) => {
      const child = spawn('gpgsm', [...base, '--passphrase-fd', '3', ...args], {
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout!.on('data', (d: Buffer) => out.push(d));
      child.stderr!.on('data', (d: Buffer) => err.push(d));
      const fd3 = child.stdio[3] as NodeJS.WritableStream;
      fd3.on('error', () => {});
      fd3.end(P12_PASSPHRASE + '\n');
      child.on('error', reject);
      child.on('close', (code, signal) =>
        resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
      );
    });
  return Object.assign(run, { home });
}
