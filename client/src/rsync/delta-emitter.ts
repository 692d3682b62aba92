import { DELTA_MAGIC } from './magic.js';

/** Command opcodes of the librsync delta format (prototab.h). */
export const OP = { END: 0x00, LITERAL_N1: 0x41, COPY_BASE: 0x45 } as const;

/** Parameter widths of one opcode, or undefined for END and the reserved ones. */
export function opcodeLayout(op: number): { literal?: number; param: number[] } | undefined {
  if (op >= 0x01 && op <= 0x40) return { literal: op, param: [] };
  if (op >= 0x41 && op <= 0x44) return { param: [1 << (op - 0x41)] };
  if (op >= 0x45 && op <= 0x54) {
    const k = op - 0x45;
    return { param: [1 << (k >> 2), 1 << (k & 3)] };
  }
  return undefined;
}

/**
 * Feeds commands we wrote ourselves (no magic; stops at END) through `emit`, so that the
 * commands of ranges scanned apart join as if scanned in one go: a COPY that ends where the
 * next range's first COPY starts becomes one command.
 */
export function replayCommands(commands: Uint8Array, emit: DeltaEmitter): void {
  let i = 0;
  while (i < commands.length && commands[i] !== OP.END) {
    const layout = opcodeLayout(commands[i]!)!;
    const params: number[] = [];
    i++;
    for (const width of layout.param) {
      let v = 0;
      for (let k = 0; k < width; k++) v = v * 256 + commands[i++]!;
      params.push(v);
    }
    if (layout.literal !== undefined || params.length === 1) {
      const len = layout.literal ?? params[0]!;
      emit.literal(commands, i, i + len);
      i += len;
    } else emit.copy(params[0]!, params[1]!);
  }
}

/** Index into {1, 2, 4, 8}: the smallest width that holds v (netint.c:rs_int_len). */
export function widthIndex(v: number): number {
  if (v < 0x100) return 0;
  if (v < 0x10000) return 1;
  if (v < 0x100000000) return 2;
  return 3;
}

/** Until the first command after a flush: a range's last flush then leaves no unused buffer. */
const NO_BUFFER = Buffer.alloc(0);

/** Appends delta commands to a reusable output buffer; merges adjacent COPYs. */
export class DeltaEmitter {
  private out: Buffer;
  private len = 0;
  private copyPos = -1;
  private copyLen = 0;

  /**
   * `header`: start with the delta magic (false for a range that continues another's commands).
   * `first`: the buffer to fill first, instead of a new one of `capacity` bytes.
   */
  constructor(
    private readonly push: (chunk: Buffer) => void,
    private readonly capacity = 128 * 1024,
    header = true,
    first?: Buffer,
  ) {
    this.out = first ?? Buffer.allocUnsafe(capacity);
    if (header) {
      this.out.writeUInt32BE(DELTA_MAGIC, 0);
      this.len = 4;
    }
  }

  /** Where the pending (unwritten) COPY ends in the basis, or -1. */
  get pendingCopyEnd(): number {
    return this.copyPos < 0 ? -1 : this.copyPos + this.copyLen;
  }

  copy(pos: number, len: number): void {
    if (this.copyPos >= 0 && this.copyPos + this.copyLen === pos) {
      this.copyLen += len;
      return;
    }
    this.flushCopy();
    this.copyPos = pos;
    this.copyLen = len;
  }

  /** One LITERAL command for data[start, end) (callers keep runs ≤ 32768). */
  literal(data: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    this.flushCopy();
    this.reserve(9 + n);
    if (n <= 64) this.out[this.len++] = n;
    else {
      const w = widthIndex(n);
      this.out[this.len++] = OP.LITERAL_N1 + w;
      this.writeInt(n, w);
    }
    this.out.set(data.subarray(start, end), this.len);
    this.len += n;
  }

  /** The last command, then everything downstream. Without `endCommand`, another range's commands follow. */
  end(endCommand = true): void {
    this.flushCopy();
    if (endCommand) {
      this.reserve(1);
      this.out[this.len++] = OP.END;
    }
    this.flush();
  }

  /** Hands buffered commands downstream; the next buffer is made when a command needs it. */
  flush(): void {
    if (this.len === 0) return;
    this.push(this.out.subarray(0, this.len));
    this.out = NO_BUFFER;
    this.len = 0;
  }

  private flushCopy(): void {
    if (this.copyPos < 0) return;
    const wp = widthIndex(this.copyPos);
    const wl = widthIndex(this.copyLen);
    this.reserve(17);
    this.out[this.len++] = OP.COPY_BASE + 4 * wp + wl;
    this.writeInt(this.copyPos, wp);
    this.writeInt(this.copyLen, wl);
    this.copyPos = -1;
    this.copyLen = 0;
  }

  private reserve(n: number): void {
    if (this.len + n > this.out.length) {
      this.flush();
      if (n > this.out.length) this.out = Buffer.allocUnsafe(Math.max(n, this.capacity));
    }
  }

  private writeInt(v: number, widthIdx: number): void {
    const o = this.out;
    switch (widthIdx) {
      case 0:
        o[this.len] = v;
        break;
      case 1:
        o.writeUInt16BE(v, this.len);
        break;
      case 2:
        o.writeUInt32BE(v, this.len);
        break;
      default:
        o.writeBigUInt64BE(BigInt(v), this.len);
    }
    this.len += 1 << widthIdx;
  }
}
