/**
 * A WebDAV sink (our embedded sink or nginx): PUT each file once under the host's directory,
 * PROPFIND to list it. Never GET, HEAD, DELETE or MKCOL: the host directory exists after
 * `sink add-host`, and both sinks refuse everything else anyway.
 *
 * PUT streams the body with a fixed Content-Length (the sink checks it, so a short body is
 * never published). Transient failures are retried with a fresh body from the factory. A 409
 * means the name exists: success only if PROPFIND shows the size we would have written; on a
 * sink that refuses PROPFIND (403, 405, 501: see `refusesPropfind`) the name counts as there,
 * its size unchecked (set names are new at every run, so it came from an earlier attempt of ours).
 */
import { Transform, type Readable } from 'node:stream';
import { createClient, type FileStat, type WebDAVClient } from 'webdav';
import { DeaddropError, describeError } from '@deaddrop/common/errors';
import type { Logger } from '@deaddrop/common/log';
import { sinkAgents, type SinkAgents } from './agents.js';
import { CredentialsRefused, type CredentialsSource } from './credentials-refused.js';
import type { SinkTargetLike } from './file-target.js';
import type { Credentials } from './netrc.js';
import {
  DEFAULT_RETRY,
  PermanentError,
  refusesPropfind,
  statusOf,
  stopped,
  withRetries,
  type RetryPolicy,
} from './retry.js';
import { idleWatchdog } from './watchdog.js';

export interface WebDavTargetOptions {
  name: string;
  /** The host directory, e.g. http://sink:8080/webdav/HOST/ (no credentials in it). */
  url: string;
  credentials: Credentials;
  /** Where the credentials come from: named when the sink refuses them (401). */
  credentialsSource?: CredentialsSource;
  /** PEM CA certificate(s) an https sink's certificate must chain to (replaces the system roots). */
  ca?: Buffer;
  retry?: RetryPolicy;
  /** No body progress (or no answer after the body) for this long aborts an attempt. */
  idleTimeoutMs?: number;
  /** A PROPFIND (listing, or the size of one name) not answered in full within this aborts the attempt. */
  answerTimeoutMs?: number;
  log?: Logger;
}

const DEFAULT_IDLE_MS = 120_000;
const DEFAULT_ANSWER_MS = 30_000;

export class WebDavTarget implements SinkTargetLike {
  readonly name: string;
  /** Shown in messages; never carries credentials. */
  readonly url: string;
  private readonly client: WebDAVClient;
  private readonly retry: RetryPolicy;
  private readonly idleMs: number;
  private readonly answerMs: number;
  private readonly agents: SinkAgents;

  constructor(private readonly opts: WebDavTargetOptions) {
    this.name = opts.name;
    this.url = opts.url.endsWith('/') ? opts.url : `${opts.url}/`;
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_MS;
    this.answerMs = opts.answerTimeoutMs ?? DEFAULT_ANSWER_MS;
    this.agents = sinkAgents(opts.ca);
    this.client = createClient(this.url, {
      username: opts.credentials.login,
      password: opts.credentials.password,
      httpAgent: this.agents.http,
      httpsAgent: this.agents.https,
    });
  }

  async put(
    remoteName: string,
    body: () => Readable,
    size: number,
    signal?: AbortSignal,
  ): Promise<'created' | 'exists'> {
    if (remoteName.includes('/') || remoteName.startsWith('.'))
      throw new DeaddropError(`${this.name}: refusing to store "${remoteName}"`);
    try {
      return await withRetries(
        () => this.putOnce(remoteName, body, size, signal),
        this.retry,
        (err, n) =>
          this.opts.log?.warn(`sink ${this.name}: ${remoteName}: attempt ${n} failed (${describe(err)}), retrying`),
        signal,
      );
    } catch (err) {
      throw this.failure(`PUT ${remoteName}`, err);
    }
  }

  private async putOnce(
    remoteName: string,
    body: () => Readable,
    size: number,
    signal?: AbortSignal,
  ): Promise<'created' | 'exists'> {
    const source = body();
    const dog = idleWatchdog(this.idleMs);
    let sent = 0;
    let wrongSize: PermanentError | undefined;
    // Count progress on the way through (a 'data' listener on the source would unpause it), and
    // refuse a body of another length: the sink would wait for the missing bytes until it gives up.
    const stream = source.pipe(
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          dog.poke();
          sent += chunk.length;
          if (sent > size) done((wrongSize = new PermanentError(`${remoteName}: local file grew past ${size} bytes`)));
          else done(null, chunk);
        },
        flush(done) {
          if (sent !== size)
            done((wrongSize = new PermanentError(`${remoteName}: local file has ${sent} of ${size} bytes`)));
          else done();
        },
      }),
    );
    source.once('error', (err) => stream.destroy(err));
    try {
      await this.client.putFileContents(remoteName, stream, {
        overwrite: true, // If-None-Match is not what our sinks check; they answer 409 on any existing name
        headers: { 'Content-Length': String(size) },
        // aborted (the run ends early): the sink publishes only a whole body, so the file is
        // either not there or complete (then the next run finds it in the listing, or as a 409)
        signal: signal ? AbortSignal.any([dog.signal, signal]) : dog.signal,
      });
      return 'created';
    } catch (err) {
      if (signal?.aborted) throw stopped(signal);
      if (wrongSize) throw wrongSize;
      const status = statusOf(err);
      if (status === 409) return await this.existing(remoteName, size, undefined, signal);
      const failure = dog.signal.aborted ? new Error(`no progress for ${this.idleMs / 1000} s`) : err;
      // No answer: a sink that refuses an existing name may cut the body short (EPIPE), and an
      // upload may have been published just before the connection broke. Ask before resending.
      if (status === undefined) {
        const there = await this.sizeOf(remoteName, signal).catch(() => undefined);
        if (signal?.aborted) throw stopped(signal);
        if (there !== undefined) return await this.existing(remoteName, size, there);
      }
      throw failure;
    } finally {
      dog.stop();
      source.destroy();
      stream.destroy();
    }
  }

  /** The name is taken: fine only when it holds exactly as many bytes as ours (or cannot be asked). */
  private async existing(remoteName: string, size: number, known?: number, stop?: AbortSignal): Promise<'exists'> {
    let have = known;
    try {
      have ??= await this.sizeOf(remoteName, stop);
    } catch (err) {
      if (refusesPropfind(err)) return 'exists';
      throw err;
    }
    if (have === size) return 'exists';
    throw new PermanentError(`${remoteName} already exists with ${have ?? 'no'} bytes (expected ${size})`, 409);
  }

  /**
   * One PROPFIND with an answer deadline: a sink that takes the connection and never answers
   * (a hung process, a black-holing firewall) must not hold the run (and its lock) forever.
   * Running out of time is a transient failure like a reset: retried, then the sink is down.
   */
  private async propfind<T>(request: (signal: AbortSignal) => Promise<T>, stop?: AbortSignal): Promise<T> {
    const signal = AbortSignal.timeout(this.answerMs);
    try {
      return await request(stop ? AbortSignal.any([signal, stop]) : signal);
    } catch (err) {
      if (stop?.aborted) throw stopped(stop);
      if (signal.aborted) throw new Error(`no answer to PROPFIND within ${this.answerMs / 1000} s`, { cause: err });
      throw err;
    }
  }

  /** PROPFIND Depth: 0 of one name: its size, or undefined when the sink has no such file. */
  private async sizeOf(remoteName: string, stop?: AbortSignal): Promise<number | undefined> {
    try {
      const st = (await this.propfind((signal) => this.client.stat(remoteName, { signal }), stop)) as FileStat;
      return st.type === 'file' ? st.size : -1;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** PROPFIND Depth: 1 of the host directory: stored name → size. */
  async list(stop?: AbortSignal): Promise<Map<string, number>> {
    try {
      return await withRetries(
        async () => {
          const entries = (await this.propfind(
            (signal) => this.client.getDirectoryContents('/', { signal }),
            stop,
          )) as FileStat[];
          const out = new Map<string, number>();
          for (const e of entries) if (e.type === 'file') out.set(e.basename, e.size);
          return out;
        },
        this.retry,
        (err, n) =>
          this.opts.log?.warn(`sink ${this.name}: PROPFIND: attempt ${n} failed (${describe(err)}), retrying`),
        stop,
      );
    } catch (err) {
      throw this.failure('PROPFIND', err);
    }
  }

  /** The error a request ends with, naming this sink; a 401 names the credentials' file instead. */
  private failure(request: string, err: unknown): DeaddropError {
    if (statusOf(err) === 401)
      return new CredentialsRefused(this.name, request, this.opts.credentialsSource, { cause: err });
    return new DeaddropError(`${this.name}: ${request}: ${describe(err)}`, undefined, { cause: err });
  }

  /** Let the process exit: keep-alive sockets would hold it open. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

/** One line without the request URL (which the webdav client may embed) or any header. */
function describe(err: unknown): string {
  if (err instanceof PermanentError) return err.message;
  const status = statusOf(err);
  if (status !== undefined) return `HTTP ${status}${status === 507 ? ' (sink storage full)' : ''}`;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const msg = describeError(err).replace(/https?:\/\/\S+/g, '<url>');
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
}
