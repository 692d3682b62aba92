/**
 * Shell steps of a Markdown document, for tests that follow a document literally. A step is a
 * fenced ```sh block directly preceded (blank lines allowed) by an HTML comment marker
 * `<!-- MARKER: tag tag ... -->`. Unmarked blocks are examples for the reader and are not run.
 */

export interface MarkedBlock {
  /** The tags of the marker, e.g. ['all'] or ['openssl']. */
  tags: string[];
  /** The block's text, without the fences. */
  code: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

/**
 * Every marked block, in document order. A marker not followed by a ```sh block, or a block
 * left open, is an error: an edit to the document must not silently drop a step.
 */
export function markedShellBlocks(markdown: string, marker: string): MarkedBlock[] {
  const lines = markdown.split('\n');
  const markerRe = new RegExp(`^<!--\\s*${marker.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\s*(.*?)\\s*-->\\s*$`);
  const blocks: MarkedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = markerRe.exec(lines[i]!);
    if (!m) continue;
    const tags = m[1]!.split(/\s+/).filter(Boolean);
    if (tags.length === 0) throw new Error(`line ${i + 1}: marker without tags`);
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() === '') j++;
    if (lines[j]?.trim() !== '```sh') throw new Error(`line ${i + 1}: marker not followed by a \`\`\`sh block`);
    const start = j + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    if (end >= lines.length) throw new Error(`line ${j + 1}: \`\`\`sh block not closed`);
    blocks.push({ tags, code: lines.slice(start, end).join('\n'), line: j + 1 });
    i = end;
  }
  return blocks;
}

/**
 * One bash script of the blocks whose tags meet `wanted`, in document order, each preceded
 * by a comment naming its line (so a failure can be traced back to the document).
 */
export function scriptOf(blocks: MarkedBlock[], wanted: string[]): string {
  return blocks
    .filter((b) => b.tags.some((t) => wanted.includes(t)))
    .map((b) => `# --- document line ${b.line} [${b.tags.join(' ')}]\n${b.code}\n`)
    .join('\n');
}
