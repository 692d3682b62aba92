import { createReadStream, fstatSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, type Transform } from 'node:stream';
import { handler, type DeaddropCommand } from '@deaddrop/common/cli';
import { DeaddropError, describeError, UsageError } from '@deaddrop/common/errors';
import { feedFile } from '@deaddrop/common/feed';
import { pipeInto, refuseExisting, writeThroughTemp, type Source } from '@deaddrop/common/output-file';
import { printJson } from '@deaddrop/common/output';
import { rdiffActions, rdiffDefaults, rdiffHashes, rdiffRollsums, type RdiffArgs } from './plain-args.js';

// yargs turns a lone "-" positional into "".
const isStd = (p: string | undefined) => p === undefined || p === '-' || p === '';

/**
 * IN (a file or stdin) as a source for the stage. `copies`: the stage copies what it keeps of a
 * chunk (signature, delta), so a file may be fed from one reused buffer; the patch stage keeps
 * references, so it gets a read stream.
 */
function source(path: string | undefined, copies: boolean): Source {
  if (isStd(path)) return process.stdin;
  if (copies) return (first) => feedFile(path!, first);
  return createReadStream(path!, { highWaterMark: 1 << 20 });
}

/** The basis size that picks rdiff's default block length: like librsync's rs_file_size, stdin counts when it is a regular file. */
async function basisSize(path: string | undefined): Promise<number | undefined> {
  const st = isStd(path) ? fstatSync(0) : await stat(path!);
  return st.isFile() ? st.size : undefined;
}

/** Where the result goes: OUT (temp + rename, removed on failure; replaced only with --force) or stdout. */
interface Output {
  path: string | undefined;
  force: boolean;
}

/** Runs IN through the stage into the output; returns bytes written. */
async function runToOutput(path: string | undefined, stage: Transform, out: Output, copies = true): Promise<number> {
  let bytes = 0;
  stage.on('data', (c: Buffer) => void (bytes += c.length));
  if (isStd(out.path)) await pipeInto(source(path, copies), [stage], process.stdout);
  else await writeThroughTemp(source(path, copies), [stage], out.path!, 0o644, { overwrite: out.force });
  return bytes;
}

/** Writes chunks made elsewhere (worker threads) to the output like runToOutput; returns bytes written. */
async function generatedToOutput(chunks: AsyncIterable<Uint8Array>, out: Output): Promise<number> {
  let bytes = 0;
  const counted = (async function* () {
    for await (const c of chunks) {
      bytes += c.length;
      yield c;
    }
  })();
  const source = Readable.from(counted, { objectMode: false });
  if (isStd(out.path)) await pipeInto(source, [], process.stdout);
  else await writeThroughTemp(source, [], out.path!, 0o644, { overwrite: out.force });
  return bytes;
}

/** The size of IN when it is a regular file named on the command line (worker threads read it themselves). */
async function namedFileSize(path: string | undefined): Promise<number | undefined> {
  if (isStd(path)) return undefined;
  const st = await stat(path!);
  return st.isFile() ? st.size : undefined;
}

/** The patch basis exists and is not a directory (it is read at the COPY offsets). */
async function checkBasis(path: string): Promise<void> {
  const st = await stat(path).catch((err: unknown) => {
    throw new DeaddropError(`basis ${path}: ${describeError(err)}`);
  });
  if (st.isDirectory()) throw new DeaddropError(`basis ${path}: is a directory`);
}

/** One rdiff action on parsed arguments (from yargs, or from plainRdiffArgs when the CLI skips yargs). */
export async function runRdiff(argv: RdiffArgs): Promise<void> {
  const outArg = argv.action === 'signature' ? argv.second : argv.third;
  if (argv.json && isStd(outArg)) throw new UsageError('--json needs an output file (stdout carries the data)');
  // before any work: swapped arguments would otherwise replace an input with the result
  if (!isStd(outArg) && !argv.force) await refuseExisting(outArg!);
  const rsync = await import('./index.js');
  const start = Date.now();
  let inputName: string | undefined;
  let output: string | undefined;
  const to = (path: string | undefined): Output => ({ path, force: argv.force });
  let bytes: number;
  if (argv.action === 'signature') {
    inputName = argv.first;
    output = argv.second;
    const size = await basisSize(argv.first);
    const params = rsync.rdiffDefaultParams(size, argv.hash, argv.rollsum, argv.blockSize, argv.sumSize);
    rsync.checkParams(params, '--block-size/--sum-size');
    const named = isStd(argv.first) ? undefined : size;
    const workers = rsync.parallelThreads(named, params.blockLen);
    bytes = workers
      ? await generatedToOutput(rsync.parallelSignature(argv.first!, named!, params, workers), to(output))
      : await runToOutput(argv.first, rsync.createSignatureStream(params), to(output));
  } else if (argv.action === 'delta') {
    if (isStd(argv.first)) throw new UsageError('rdiff delta needs a signature file: rdiff delta SIG [NEW [DELTA]]');
    inputName = argv.second;
    output = argv.third;
    const size = await namedFileSize(argv.second);
    // the signature's block length says whether ranges pay (parallel.ts RANGE_BLOCK_MAX)
    const shared = rsync.parallelThreads(size, 1) === undefined ? undefined : rsync.loadSharedSignature(argv.first!);
    const workers = shared && rsync.parallelThreads(size, shared.sig.blockLen);
    if (shared && workers) {
      bytes = await generatedToOutput(rsync.parallelDelta(argv.second!, size!, shared, workers), to(output));
    } else {
      const sig = shared?.sig ?? (await rsync.readSignature(createReadStream(argv.first!), argv.first));
      bytes = await runToOutput(argv.second, rsync.createDeltaStream(sig), to(output));
    }
  } else {
    if (isStd(argv.first))
      throw new UsageError('rdiff patch needs a seekable basis file: rdiff patch BASIS [DELTA [NEW]]');
    inputName = argv.second;
    output = argv.third;
    // opened at the first COPY only: a mistyped basis would go unnoticed by a delta without one
    await checkBasis(argv.first!);
    bytes = await runToOutput(
      argv.second,
      rsync.createPatchStream(argv.first!, argv.second ?? 'delta'),
      to(output),
      false,
    );
  }
  if (argv.json)
    printJson({
      action: argv.action,
      input: isStd(inputName) ? '-' : inputName,
      output,
      bytes,
      seconds: (Date.now() - start) / 1000,
    });
}

export const rdiffCommand = {
  command: 'rdiff <action> [first] [second] [third]',
  describe: 'librsync signatures, deltas and patches, compatible with rdiff',
  builder: (y) =>
    y
      .positional('action', { choices: rdiffActions, describe: 'What to compute' })
      .positional('first', { type: 'string' })
      .positional('second', { type: 'string' })
      .positional('third', { type: 'string' })
      .option('hash', { alias: 'H', choices: rdiffHashes, default: rdiffDefaults.hash, describe: 'Strong sum' })
      .option('rollsum', { alias: 'R', choices: rdiffRollsums, default: rdiffDefaults.rollsum, describe: 'Weak sum' })
      .option('block-size', {
        alias: 'b',
        type: 'number',
        default: rdiffDefaults.blockSize,
        describe: 'Block length (0: rdiff rule)',
      })
      .option('sum-size', {
        alias: 'S',
        type: 'number',
        default: rdiffDefaults.sumSize,
        describe: 'Strong sum bytes (0: max, -1: min)',
      })
      .option('force', {
        alias: 'f',
        type: 'boolean',
        default: rdiffDefaults.force,
        describe: 'Replace an existing output file',
      })
      .usage(
        'deaddrop rdiff signature [BASIS [SIG]]\ndeaddrop rdiff delta SIG [NEW [DELTA]]\ndeaddrop rdiff patch BASIS [DELTA [NEW]]',
      )
      .epilog(
        '"-" or a missing file means stdin/stdout. Output files appear only when complete, and an ' +
          'existing one is refused unless --force (as rdiff does). A regular ' +
          'input file of 32 MiB or more is read on every core when the work is long enough to share ' +
          '(DEADDROP_WORKERS=1: one thread).',
      ),
  handler: handler<RdiffArgs>(runRdiff),
} as DeaddropCommand;
