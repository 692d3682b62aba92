import { UsageError } from '@deaddrop/common/errors';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Each `-----BEGIN LABEL-----` block of a PEM text, decoded. */
export function pemBlocks(text: string): { label: string; der: Buffer }[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({
    label: m[1]!,
    // encapsulated headers (Proc-Type etc.) sit before a blank line; plain base64 otherwise
    der: Buffer.from(
      m[2]!.replace(/^[\s\S]*?\r?\n\r?\n/, (h) => (h.includes(':') ? '' : h)),
      'base64',
    ),
  }));
}

/** The DER certificates in a file: PEM CERTIFICATE blocks, or the file itself when it is DER. */
export function certificateBlocks(bytes: Buffer, source: string): Buffer[] {
  if (bytes[0] === 0x30) return [bytes];
  const text = bytes.toString('latin1');
  const blocks = pemBlocks(text).filter((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE');
  if (blocks.length > 0) return blocks.map((b) => b.der);
  const other = pemBlocks(text)[0];
  if (other) throw new UsageError(`${source}: not a certificate (PEM block is "${other.label}", expected CERTIFICATE)`);
  throw new UsageError(`${source}: not a certificate (neither PEM nor DER X.509)`);
}
