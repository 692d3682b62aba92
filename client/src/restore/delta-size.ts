/**
 * The size of the file a librsync delta produces, from the delta alone (formats §7.2): the sum
 * of its LITERAL and COPY lengths. `deaddrop list --files` reports sizes without the basis.
 */
import { DeaddropError } from '@deaddrop/common/errors';
import { DELTA_MAGIC } from '../rsync/magic.js';

export class DeltaSize {
  size = 0;
  private head = Buffer.alloc(0);
  private skip = 0; // literal bytes still to pass over
  private magicSeen = false;
  private ended = false;

  constructor(private readonly what: string) {}

  update(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      if (this.ended) throw new DeaddropError(`${this.what}: data after the END command`);
      // a command (or the magic) may straddle chunks: collect it first
      const need = this.magicSeen ? commandLength(this.head.length ? this.head[0]! : chunk[i]!, this.what) : 4;
      const take = Math.min(need - this.head.length, chunk.length - i);
      this.head = Buffer.concat([this.head, chunk.subarray(i, i + take)]);
      i += take;
      if (this.head.length < need) return;
      this.command(this.head);
      this.head = Buffer.alloc(0);
    }
  }

  private command(c: Buffer): void {
    if (!this.magicSeen) {
      if (c.readUInt32BE(0) !== DELTA_MAGIC) throw new DeaddropError(`${this.what}: not a librsync delta`);
      this.magicSeen = true;
      return;
    }
    const op = c[0]!;
    if (op === 0) this.ended = true;
    else if (op <= 0x40) this.literal(op);
    else if (op <= 0x44) this.literal(readUInt(c, 1, 1 << (op - 0x41)));
    else {
      const k = op - 0x45;
      const w = 1 << (k >> 2);
      this.size += readUInt(c, 1 + w, 1 << (k & 3));
    }
  }

  private literal(n: number): void {
    this.size += n;
    this.skip = n;
  }

  /** The new file's size; an error when the delta has not ended. */
  result(): number {
    if (!this.ended) throw new DeaddropError(`${this.what}: truncated delta (no END command)`);
    return this.size;
  }
}

function commandLength(op: number, what: string): number {
  if (op <= 0x40) return 1;
  if (op <= 0x44) return 1 + (1 << (op - 0x41));
  if (op <= 0x54) {
    const k = op - 0x45;
    return 1 + (1 << (k >> 2)) + (1 << (k & 3));
  }
  throw new DeaddropError(`${what}: reserved delta command 0x${op.toString(16)}`);
}

function readUInt(b: Buffer, at: number, width: number): number {
  let v = 0;
  for (let i = 0; i < width; i++) v = v * 256 + b[at + i]!;
  return v;
}
