/**
 * A WebDAV sink (our embedded sink or nginx): PUT each file once under the host's directory,
 * PROPFIND to list it. Never GET, HEAD, DELETE or MKCOL: the host directory exists after
 * `sink add-host`, and both sinks refuse everything else anyway.
 *
 * PUT streams the body with a fixed Content-Length (the sink checks it, so a short body is
 * never published). Transient failures are retried with a fresh body from the factory. A 409
 * means the name exists: success only if PROPFIND shows the size we would have written.
 */
import http from 'node:http';
import https from 'node:https';
import { Transform, type Readable } from 'node:stream';
import { createClient, type FileStat, type WebDAVClient } from 'webdav';
import { DeaddropError, describeError } from '@deaddrop/common/errors';
import type { Logger } from '@deaddrop/common/log';
import type { SinkTargetLike } from './file-target.js';
import type { Credentials } from './netrc.js';
import { DEFAULT_RETRY, PermanentError, statusOf, withRetries, type RetryPolicy } from './retry.js';
import { idleWatchdog } from './watchdog.js';

export interface WebDavTargetOptions {
  name: string;
  /** The host directory, e.g. http://sink:8080/webdav/HOST/ (no credentials in it). */
  url: string;
  credentials: Credentials;
  /** PEM CA certificate(s) an https sink's certificate must chain to (replaces the system roots). */
  ca?: Buffer;
  retry?: RetryPolicy;
  /** No body progress (or no answer after the body) for this long aborts an attempt. */
  idleTimeoutMs?: number;
  log?: Logger;
}

const DEFAULT_IDLE_MS = 120_000;

export class WebDavTarget implements SinkTargetLike {
  readonly name: string;
  /** Shown in messages; never carries credentials. */
  readonly url: string;
  private readonly client: WebDAVClient;
  private readonly retry: RetryPolicy;
  private readonly idleMs: number;
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(private readonly opts: WebDavTargetOptions) {
    this.name = opts.name;
    this.url = opts.url.endsWith('/') ? opts.url : `${opts.url}/`;
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_MS;
    this.agents = {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({ keepAlive: true, ...(opts.ca ? { ca: opts.ca } : {}) }),
    };
    this.client = createClient(this.url, {
      username: opts.credentials.login,
      password: opts.credentials.password,
      httpAgent: this.agents.http,
      httpsAgent: this.agents.https,
    });
  }

  async put(remoteName: string, body: () => Readable, size: number): Promise<'created' | 'exists'> {
    if (remoteName.includes('/') || remoteName.startsWith('.'))
      throw new DeaddropError(`${this.name}: refusing to store "${remoteName}"`);
    try {
      return await withRetries(
        () => this.putOnce(remoteName, body, size),
        this.retry,
        (err, n) =>
          this.opts.log?.warn(`sink ${this.name}: ${remoteName}: attempt ${n} failed (${describe(err)}), retrying`),
      );
    } catch (err) {
      throw new DeaddropError(`${this.name}: PUT ${remoteName}: ${describe(err)}`, undefined, { cause: err });
    }
  }

  private async putOnce(remoteName: string, body: () => Readable, size: number): Promise<'created' | 'exists'> {
    const source = body();
    const dog = idleWatchdog(this.idleMs);
    // Count progress on the way through (a 'data' listener on the source would unpause it).
    const stream = source.pipe(
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          dog.poke();
          done(null, chunk);
        },
      }),
    );
    source.once('error', (err) => stream.destroy(err));
    try {
      await this.client.putFileContents(remoteName, stream, {
        overwrite: true, // If-None-Match is not what our sinks check; they answer 409 on any existing name
        headers: { 'Content-Length': String(size) },
        signal: dog.signal,
      });
      return 'created';
    } catch (err) {
      if (statusOf(err) === 409) return this.existing(remoteName, size);
      if (dog.signal.aborted) throw new Error(`no progress for ${this.idleMs / 1000} s`);
      throw err;
    } finally {
      dog.stop();
      source.destroy();
      stream.destroy();
    }
  }

  /** The name is taken: fine only when it holds exactly as many bytes as ours. */
  private async existing(remoteName: string, size: number): Promise<'exists'> {
    const st = (await this.client.stat(remoteName)) as FileStat;
    if (st.type === 'file' && st.size === size) return 'exists';
    throw new PermanentError(`${remoteName} already exists with ${st.size} bytes (expected ${size})`, 409);
  }

  /** PROPFIND Depth: 1 of the host directory: stored name → size. */
  async list(): Promise<Map<string, number>> {
    try {
      return await withRetries(async () => {
        const entries = (await this.client.getDirectoryContents('/')) as FileStat[];
        const out = new Map<string, number>();
        for (const e of entries) if (e.type === 'file') out.set(e.basename, e.size);
        return out;
      }, this.retry);
    } catch (err) {
      throw new DeaddropError(`${this.name}: PROPFIND: ${describe(err)}`, undefined, { cause: err });
    }
  }

  /** Let the process exit: keep-alive sockets would hold it open. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

/** One line without the request URL (which the webdav client may embed) or any header. */
function describe(err: unknown): string {
  const status = statusOf(err);
  if (status !== undefined) return `HTTP ${status}${status === 507 ? ' (sink storage full)' : ''}`;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const msg = describeError(err).replace(/https?:\/\/\S+/g, '<url>');
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
}
