/**
 * The per-set checksum file in GNU `sha256sum` format, so `sha256sum -c` verifies a set on the
 * sink with stock tools: `<64 lowercase hex>  <name>\n` (two spaces; `*` instead of the second
 * space marks binary mode, which we accept when reading).
 */
import { DeaddropError } from '@deaddrop/common/errors';

export { hashFile, sha256File } from '@deaddrop/common/hash';

export interface SumsEntry {
  /** Lowercase hex SHA-256. */
  sha256: string;
  name: string;
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

/** One line; refuses names sha256sum would have to escape (duplicity names never need it). */
export function formatSumsLine(entry: SumsEntry): string {
  if (!HEX64.test(entry.sha256)) throw new DeaddropError(`sums: "${entry.sha256}" is not a SHA-256 hex digest`);
  if (entry.name === '' || /[\n\r\\]/.test(entry.name))
    throw new DeaddropError(`sums: file name ${JSON.stringify(entry.name)} cannot be written unescaped`);
  return `${entry.sha256.toLowerCase()}  ${entry.name}\n`;
}

export function formatSums(entries: Iterable<SumsEntry>): string {
  let out = '';
  for (const e of entries) out += formatSumsLine(e);
  return out;
}

/**
 * Parse a sums file. Errors name the file (`source`) and the line. Accepts `<hex>  name`,
 * `<hex> *name`, and GNU's escaped form (a leading `\` with `\\`/`\n` in the name); ignores
 * blank lines. A name listed twice is an error (the set would be ambiguous).
 */
export function parseSums(text: string, source = 'sums file'): SumsEntry[] {
  const entries: SumsEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const where = `${source}: line ${i + 1}`;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const escaped = line.startsWith('\\');
    const body = escaped ? line.slice(1) : line;
    const sha256 = body.slice(0, 64);
    const sep = body.slice(64, 66);
    let name = body.slice(66);
    if (!HEX64.test(sha256)) throw new DeaddropError(`${where}: expected 64 hex digits, got "${truncate(body)}"`);
    if (sep !== '  ' && sep !== ' *') throw new DeaddropError(`${where}: expected two spaces after the digest`);
    if (escaped) name = name.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    if (name === '') throw new DeaddropError(`${where}: no file name`);
    if (seen.has(name)) throw new DeaddropError(`${where}: ${name} listed twice`);
    seen.add(name);
    entries.push({ sha256: sha256.toLowerCase(), name });
  });
  return entries;
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
