import type { Socket } from 'node:net';

/**
 * Connections per client address, for both sinks (nginx-config's limit_conn, `sink serve`'s
 * --max-conns): the embedded sink's --max-uploads-per-host (8) plus as many again for PROPFINDs
 * and a reader's GETs.
 */
export const DEFAULT_MAX_CONNS = 16;

/**
 * Open connections per client address, capped: one past the cap is closed at once, before a
 * byte of it is read. Without a cap one client holding requests open (a PROPFIND body trickled
 * in under the idle timeout) could take every file descriptor, and other hosts got no answer.
 * Counted by the whole address, as nginx's limit_conn ($binary_remote_addr) does; unlike it,
 * idle keep-alive connections (5 s) and request heads still arriving count too.
 */
export class ConnectionLimit {
  private readonly open = new Map<string, number>();

  /** `max` 0: no limit. */
  constructor(private readonly max: number) {}

  /** Count `socket` against its address until it closes, or close it if that address is at the cap. */
  admit(socket: Socket): void {
    if (this.max <= 0) return;
    const address = socket.remoteAddress ?? '-';
    const n = this.open.get(address) ?? 0;
    if (n >= this.max) {
      socket.destroy();
      return;
    }
    this.open.set(address, n + 1);
    socket.once('close', () => {
      const left = (this.open.get(address) ?? 1) - 1;
      if (left <= 0) this.open.delete(address);
      else this.open.set(address, left);
    });
  }
}
