import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { basicCredentials } from './auth.js';
import { ConnectionLimit, DEFAULT_MAX_CONNS } from './conn-limit.js';
import type { AccessEntry } from './access-log.js';
import type { HtpasswdStore } from './htpasswd.js';
import { FailedLoginLimit, loginKey } from './login-limit.js';
import { BusyError } from './password-checks.js';
import { parseRequestTarget } from './path-policy.js';
import { serveFile } from './get.js';
import { parseDepth, propfind } from './propfind.js';
import { checkPutTarget, storeUpload } from './put.js';
import { HttpRefusal } from './safe-fs.js';

export interface SinkServerOptions {
  root: string;
  tempDir: string;
  prefix: string;
  htpasswd: HtpasswdStore;
  maxBodyBytes: number;
  maxUploadsPerHost: number;
  /** Open connections per client address (conn-limit.ts); default nginx-config's; 0 = no limit. */
  maxConnsPerAddress?: number;
  /** Whole request head must arrive within this (slowloris). */
  headerTimeoutMs: number;
  /** A connection with no bytes moving for this long is dropped (slow or stalled bodies). */
  idleTimeoutMs: number;
  tls?: { cert: Buffer; key: Buffer };
  /** htpasswd users that may GET and PROPFIND anywhere under the prefix, and nothing else. */
  readers?: ReadonlySet<string>;
  onAccess(entry: AccessEntry): void;
  onError(message: string): void;
}

const ALLOWED = 'PUT, PROPFIND';
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

/**
 * The embedded write-only WebDAV sink: PUT (write-once) and PROPFIND (depth 0/1) in the
 * authenticated host's own directory, nothing else. Reader accounts (--reader, for restores)
 * may GET and PROPFIND everywhere under the prefix and write nothing. Order of decisions: path
 * shape (400/404), method (405), credentials (401), role and ownership (403/405), and only then
 * anything that touches the file system, so nobody learns whether a name exists before proving
 * who they are.
 */
export class SinkServer {
  private readonly servers: (http.Server | https.Server)[] = [];
  private readonly uploadsPerHost = new Map<string, number>();
  private readonly failedLogins = new FailedLoginLimit();
  private readonly connections: ConnectionLimit;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing = false;

  constructor(private readonly opts: SinkServerOptions) {
    this.connections = new ConnectionLimit(opts.maxConnsPerAddress ?? DEFAULT_MAX_CONNS);
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    const handle = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    // Check header and request deadlines every second (Node's default is every 30 s).
    const common = { connectionsCheckingInterval: 1000 };
    const server = this.opts.tls
      ? https.createServer({ ...common, cert: this.opts.tls.cert, key: this.opts.tls.key }, handle)
      : http.createServer(common, handle);
    // Answer Expect: 100-continue ourselves: a refused PUT then costs the client no upload.
    // for https the raw TCP socket, before any TLS handshake is spent on it
    server.on('connection', (socket: Socket) => this.connections.admit(socket));
    server.on('checkContinue', (req, res) => this.handle(req, res, true));
    server.headersTimeout = this.opts.headerTimeoutMs;
    server.requestTimeout = 0; // a 100 GB body may take hours; the idle timeout guards stalls
    server.timeout = this.opts.idleTimeoutMs;
    server.keepAliveTimeout = 5000;
    server.on('clientError', (_err, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, ipv6Only: host.includes(':') && host !== '::' }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.servers.push(server);
    return server.address() as AddressInfo;
  }

  /**
   * Stop accepting, let in-flight uploads finish for up to graceMs, then cut the rest (their
   * temp files are removed; nothing is published half-way). Returns how many were cut.
   */
  async shutdown(graceMs: number): Promise<{ finished: number; discarded: number }> {
    this.closing = true;
    const closed = this.servers.map((s) => new Promise((r) => s.close(r)));
    for (const s of this.servers) s.closeIdleConnections();
    const pending = this.inFlight.size;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.allSettled([...this.inFlight]).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
    ]);
    clearTimeout(timer);
    const discarded = timedOut ? this.inFlight.size : 0;
    for (const s of this.servers) s.closeAllConnections();
    await Promise.allSettled([...this.inFlight]);
    await Promise.all(closed);
    return { finished: pending - discarded, discarded };
  }

  /** No error while answering one request may end the process: log it, drop that request. */
  private handle(req: IncomingMessage, res: ServerResponse, expectContinue = false): void {
    try {
      this.answer(req, res, expectContinue);
    } catch (err) {
      this.dropOnError(req, err);
    }
  }

  private dropOnError(req: IncomingMessage, err: unknown): void {
    this.opts.onError(`${req.method ?? '-'} ${(req.url ?? '').split('?')[0]}: dropped: ${(err as Error).message}`);
    req.destroy();
  }

  private answer(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    // body readers below handle their own errors; this keeps a late one from being unhandled
    req.on('error', () => {});
    res.on('error', () => {});
    const started = Date.now();
    const entry: AccessEntry = {
      remote: req.socket.remoteAddress ?? '-',
      user: undefined,
      method: req.method ?? '-',
      path: (req.url ?? '').split('?')[0]!,
      status: 0,
      bytesIn: 0,
      ms: 0,
    };
    // Logged when the answer is handed to the socket ('finish'), or on a cut connection ('close').
    let logged = false;
    const logOnce = () => {
      if (logged) return;
      logged = true;
      entry.status = res.headersSent ? res.statusCode : 499;
      entry.ms = Date.now() - started;
      this.opts.onAccess(entry);
    };
    res.on('finish', logOnce);
    res.on('close', logOnce);
    const work = this.route(req, res, entry, expectContinue)
      .catch((err: unknown) => {
        const refusal =
          err instanceof HttpRefusal ? err : new HttpRefusal(500, `internal error: ${(err as Error).message}`);
        if (refusal.status === 500) this.opts.onError(`${entry.method} ${entry.path}: ${refusal.message}`);
        entry.note = refusal.message;
        this.refuse(req, res, refusal.status);
      })
      .catch((err: unknown) => this.dropOnError(req, err));
    if (req.method === 'PUT') {
      this.inFlight.add(work);
      void work.finally(() => this.inFlight.delete(work));
    }
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    entry: AccessEntry,
    expectContinue: boolean,
  ): Promise<void> {
    if (this.closing) throw new HttpRefusal(503, 'shutting down');
    // Node de-chunks `gzip, chunked` and would store the still-encoded bytes as the file; nginx
    // answers 501 to any transfer-coding but plain chunked, and so does this, before the body.
    const te = req.headers['transfer-encoding'];
    if (te !== undefined && te.trim().toLowerCase() !== 'chunked')
      throw new HttpRefusal(501, `Transfer-Encoding ${te}`);
    const target = parseRequestTarget(req.url ?? '', this.opts.prefix);
    if (target.kind === 'outside') throw new HttpRefusal(404, 'outside the prefix');
    if (target.kind === 'bad') throw new HttpRefusal(400, target.reason);
    const readers = this.opts.readers ?? new Set<string>();
    const method = req.method ?? '';
    // GET exists only for readers: without any, it is refused before credentials as always
    if (!(method === 'PUT' || method === 'PROPFIND' || (method === 'GET' && readers.size > 0)))
      throw new HttpRefusal(405, 'method not allowed');
    const creds = basicCredentials(req.headers.authorization);
    if (!creds) throw new HttpRefusal(401, 'no credentials');
    const address = req.socket.remoteAddress ?? '-';
    // Credentials verified before are no guess and cost no bcrypt: another host behind the
    // guessing address keeps working. Anything else from it waits out the block.
    if (this.failedLogins.blocked(address) && !(await this.opts.htpasswd.alreadyVerified(creds.user, creds.password)))
      throw new HttpRefusal(429, 'too many failed logins from this address');
    const valid = await this.opts.htpasswd.verify(creds.user, creds.password, loginKey(address)).catch((err) => {
      if (err instanceof BusyError) throw new HttpRefusal(429, 'too many logins from this address being checked');
      throw err;
    });
    if (!valid) {
      this.failedLogins.fail(address);
      throw new HttpRefusal(401, 'wrong credentials');
    }
    entry.user = creds.user;
    if (readers.has(creds.user)) return this.read(req, res, target, entry, expectContinue);
    if (method === 'GET') throw new HttpRefusal(405, 'GET is for reader accounts');
    if (target.kind === 'root' || target.host !== creds.user) throw new HttpRefusal(403, 'not your directory');

    const { root, tempDir } = this.opts;
    if (req.method === 'PROPFIND') {
      const depth = parseDepth(req.headers.depth as string | undefined);
      if (expectContinue) res.writeContinue();
      await drainSmallBody(req, 64 * 1024);
      const parts = [target.host, ...target.segments];
      await propfind({ root, prefix: this.opts.prefix, parts, depth }, res);
      return;
    }

    // PUT /webdav/HOST (no slash) names the host directory itself: refused like nginx does.
    if (target.segments.length === 0 && !target.trailingSlash) throw new HttpRefusal(403, 'PUT to the host directory');
    if (target.trailingSlash) throw new HttpRefusal(409, 'PUT to a collection');
    // a fragment stored as the whole write-once file would be a truncated volume for good
    if (req.headers['content-range'] !== undefined) throw new HttpRefusal(501, 'PUT with Content-Range');
    const length = req.headers['content-length'];
    // neither length nor chunked: Node sees an empty body, which is not what the client meant
    if (length === undefined && req.headers['transfer-encoding'] === undefined)
      throw new HttpRefusal(411, 'PUT without Content-Length or chunked body');
    if (length !== undefined && Number(length) > this.opts.maxBodyBytes)
      throw new HttpRefusal(413, `Content-Length ${length} over the limit`);
    const put = { root, tempDir, host: target.host, segments: target.segments };
    await checkPutTarget(put);
    const running = this.uploadsPerHost.get(target.host) ?? 0;
    if (running >= this.opts.maxUploadsPerHost) throw new HttpRefusal(429, 'too many concurrent uploads');
    this.uploadsPerHost.set(target.host, running + 1);
    try {
      if (expectContinue) res.writeContinue();
      const { bytes } = await storeUpload(req, put, this.opts.maxBodyBytes);
      entry.bytesIn = bytes;
    } finally {
      const n = (this.uploadsPerHost.get(target.host) ?? 1) - 1;
      if (n <= 0) this.uploadsPerHost.delete(target.host);
      else this.uploadsPerHost.set(target.host, n);
    }
    res.writeHead(201, { 'Content-Length': '0' });
    res.end();
  }

  /** A reader's request: PROPFIND or GET anywhere under the prefix; writing is forbidden. */
  private async read(
    req: IncomingMessage,
    res: ServerResponse,
    target: { kind: 'root' } | { kind: 'host'; host: string; segments: string[] },
    entry: AccessEntry,
    expectContinue: boolean,
  ): Promise<void> {
    if (req.method === 'PUT') throw new HttpRefusal(403, 'reader accounts may not write');
    const parts = target.kind === 'root' ? [] : [target.host, ...target.segments];
    const { root, prefix } = this.opts;
    if (expectContinue) res.writeContinue();
    if (req.method === 'PROPFIND') {
      const depth = parseDepth(req.headers.depth as string | undefined);
      await drainSmallBody(req, 64 * 1024);
      await propfind({ root, prefix, parts, depth }, res);
      return;
    }
    await drainSmallBody(req, 0);
    if (parts.length === 0) throw new HttpRefusal(404, 'GET of the root');
    await serveFile(root, parts, res, entry, req.headers.range);
  }

  /**
   * Send an error status. When the request body was not read (a refused PUT), throw away what
   * still arrives and keep the connection until the body has ended, as nginx discards a body:
   * closing with unread bytes makes the kernel send a reset, and a client still sending may see
   * that before the status and retry (a 507 sent twice). A client that keeps sending is cut
   * after a few seconds.
   */
  private refuse(req: IncomingMessage, res: ServerResponse, status: number): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = `${status} ${REASONS[status] ?? 'Error'}\n`;
    const headers: Record<string, string> = { 'Content-Type': 'text/plain', 'Content-Length': String(body.length) };
    if (status === 401) headers['WWW-Authenticate'] = 'Basic realm="deaddrop", charset="UTF-8"';
    if (status === 405) headers.Allow = ALLOWED;
    if (status === 429 || status === 503) headers['Retry-After'] = '5';
    const socket = req.socket as Socket | null; // null once the request was destroyed
    if (!req.complete && socket) {
      req.resume();
      const cut = setTimeout(() => socket.destroy(), 5000);
      cut.unref();
      req.once('end', () => clearTimeout(cut));
      socket.once('close', () => clearTimeout(cut));
    }
    res.writeHead(status, headers);
    res.end(body);
  }
}

/**
 * Read and ignore a small request body (a PROPFIND's XML); refuse a big one. On a refusal the
 * request is paused, not destroyed (leaving a for-await loop would destroy it): the client is
 * still owed its 413, and refuse() discards the rest.
 */
function drainSmallBody(req: IncomingMessage, max: number): Promise<void> {
  if (req.complete) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let n = 0;
    const done = (err?: Error) => {
      req.off('data', onData).off('end', onEnd).off('close', onClose).off('error', done);
      if (!err) return resolve();
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      n += chunk.length;
      if (n > max) done(new HttpRefusal(413, `${req.method ?? ''} body over ${max} bytes`));
    };
    const onEnd = () => done();
    const onClose = () => done(new HttpRefusal(400, 'client went away mid-body'));
    req.on('data', onData).once('end', onEnd).once('close', onClose).once('error', done);
    if (req.destroyed) done(new HttpRefusal(400, 'client went away before the body'));
  });
}
