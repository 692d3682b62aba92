import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SinkProxyHooks {
  /** Answer (or hold, or drop) a request here instead of passing it on: return true. */
  intercept?(req: IncomingMessage, res: ServerResponse): boolean;
  /** The sink's answer to a request passed on: return true to drop it (the client's connection is cut). */
  dropAnswer?(req: IncomingMessage, answer: IncomingMessage): boolean;
  /** Headers to send on instead of the client's (default: as they came). */
  headers?(req: IncomingMessage): IncomingMessage['headers'];
}

export interface SinkProxy {
  port: number;
  close(): void;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of a sink on `port`, for fault tests: the hooks pick the
 * requests it answers itself and the answers it loses; everything else goes through as it is.
 */
export async function startSinkProxy(port: number, hooks: SinkProxyHooks = {}): Promise<SinkProxy> {
  const server = createServer((req, res) => {
    if (hooks.intercept?.(req, res)) return;
    const headers = hooks.headers?.(req) ?? req.headers;
    const up = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers }, (answer) => {
      if (hooks.dropAnswer?.(req, answer)) {
        answer.resume();
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => req.socket.destroy());
    req.on('error', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
