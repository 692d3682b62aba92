/**
 * `deaddrop rdiff` arguments without yargs. Scripts run rdiff once per file, and loading and
 * configuring yargs costs ~25 ms of each run. node:util's parseArgs reads the plain forms here;
 * anything else (--help, --version, a repeated option, `--`, a value yargs would refuse or read
 * differently) gives undefined, and the CLI hands the words to yargs as before. So yargs stays the
 * only place that prints help and usage errors, and a test checks that both read alike.
 */
import { parseArgs } from 'node:util';

export interface RdiffArgs {
  action: (typeof rdiffActions)[number];
  first?: string;
  second?: string;
  third?: string;
  hash: (typeof rdiffHashes)[number];
  rollsum: (typeof rdiffRollsums)[number];
  blockSize: number;
  sumSize: number;
  force: boolean;
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

export const rdiffActions = ['signature', 'delta', 'patch'] as const;
export const rdiffHashes = ['md4', 'blake2'] as const;
export const rdiffRollsums = ['rollsum', 'rabinkarp'] as const;
/** rdiff's own defaults; 0 picks rdiff's block and strong-sum length rules. */
export const rdiffDefaults = { hash: 'blake2', rollsum: 'rabinkarp', blockSize: 0, sumSize: 0, force: false } as const;

const options = {
  hash: { type: 'string', short: 'H' },
  rollsum: { type: 'string', short: 'R' },
  'block-size': { type: 'string', short: 'b' },
  'sum-size': { type: 'string', short: 'S' },
  force: { type: 'boolean', short: 'f' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

const oneOf = <T extends string>(choices: readonly T[], value: string | undefined, fallback: T): T | undefined =>
  value === undefined ? fallback : choices.find((c) => c === value);

// yargs reads "1e3", "0x10" or " 8" as numbers too; only plain integers are read here.
const integer = (value: string | undefined, fallback: number) =>
  value === undefined ? fallback : /^-?(0|[1-9][0-9]{0,14})$/.test(value) ? Number(value) : undefined;

/** The words after `rdiff`, read as yargs reads them; undefined when yargs must read them. */
export function plainRdiffArgs(words: string[]): RdiffArgs | undefined {
  if (words.includes('--')) return undefined;
  let parsed;
  try {
    parsed = parseArgs({ args: words, options, allowPositionals: true, strict: true, tokens: true });
  } catch {
    return undefined; // unknown option, missing value, --help, --version, ...
  }
  const { values, positionals, tokens } = parsed;
  const named = tokens.filter((t) => t.kind === 'option').map((t) => t.name);
  if (new Set(named).size !== named.length) return undefined; // yargs makes an array of a repeat
  if (positionals.length < 1 || positionals.length > 4) return undefined;
  const [word, first, second, third] = positionals as [string, ...(string | undefined)[]];
  const action = rdiffActions.find((a) => a === word);
  const hash = oneOf(rdiffHashes, values.hash, rdiffDefaults.hash);
  const rollsum = oneOf(rdiffRollsums, values.rollsum, rdiffDefaults.rollsum);
  const blockSize = integer(values['block-size'], rdiffDefaults.blockSize);
  const sumSize = integer(values['sum-size'], rdiffDefaults.sumSize);
  if (
    action === undefined ||
    hash === undefined ||
    rollsum === undefined ||
    blockSize === undefined ||
    sumSize === undefined
  )
    return undefined;
  return {
    action,
    ...(first === undefined ? {} : { first }),
    ...(second === undefined ? {} : { second }),
    ...(third === undefined ? {} : { third }),
    hash,
    rollsum,
    blockSize,
    sumSize,
    force: values.force ?? rdiffDefaults.force,
    ...(values.json === undefined ? {} : { json: values.json }),
    ...(values.verbose === undefined ? {} : { verbose: values.verbose }),
    ...(values.quiet === undefined ? {} : { quiet: values.quiet }),
  };
}
