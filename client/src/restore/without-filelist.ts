/**
 * A manifest's text without its Filelist block, taken as it is decrypted. Restore needs only
 * the head and the volume blocks; the Filelist has a line per file the set changed, 40 MB for
 * a full backup of a host with 412k files, and reading it whole before cutting it out made a
 * restore of /etc from such a set peak at 189 MiB. The block runs from its `Filelist` line to
 * the next `Volume` line (manifest.py's to_string puts it first) or to the end; keys are
 * matched at a line's start without regard to case, as manifest.py's regular expressions do.
 */

/** Enough of a line's start to tell `Filelist` and `Volume` lines from the others. */
const KEY_BYTES = 'filelist'.length;

export async function withoutFilelist(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const kept: Buffer[] = [];
  let inFilelist = false;
  /** The current line's first bytes, while too few to decide on it. */
  let start: Buffer[] = [];
  let startLength = 0;
  /** What becomes of the rest of the current line, once decided. */
  let current: 'keep' | 'drop' | undefined;

  const decide = (head: Buffer): 'keep' | 'drop' => {
    const key = head.subarray(0, KEY_BYTES).toString('latin1').toLowerCase();
    if (key.startsWith('filelist')) inFilelist = true;
    else if (key.startsWith('volume')) inFilelist = false;
    return inFilelist ? 'drop' : 'keep';
  };
  const decideStart = () => {
    const head = Buffer.concat(start, startLength);
    current = decide(head);
    if (current === 'keep') kept.push(head);
    start = [];
    startLength = 0;
  };

  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.length;) {
      const newline = chunk.indexOf(0x0a, at);
      const end = newline < 0 ? chunk.length : newline + 1;
      const piece = chunk.subarray(at, end);
      at = end;
      if (current === undefined) {
        start.push(Buffer.from(piece)); // a copy: chunks may be reused buffers
        startLength += piece.length;
        if (startLength >= KEY_BYTES || newline >= 0) decideStart();
      } else if (current === 'keep') kept.push(Buffer.from(piece));
      if (newline >= 0) current = undefined;
    }
  }
  if (startLength > 0) decideStart();
  return Buffer.concat(kept);
}
