/**
 * A host directory on a WebDAV sink, read with a reader account (`sink serve --reader`):
 * PROPFIND Depth: 1 lists it, GET streams each file. Credentials come from a curl-style netrc
 * and https trusts --ca instead of the system roots, both exactly as the backup's transport.
 * Listings and small files are retried whole (network errors, 408, 429, 5xx); a volume's GET is
 * retried until its answer starts, never mid-body: its bytes are already being applied.
 */
import { readFile } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { createClient, type FileStat, type WebDAVClient } from 'webdav';
import { DeaddropError, UsageError, describeError } from '@deaddrop/common/errors';
import { sinkAgents, type SinkAgents } from '../transport/agents.js';
import { Netrc, type Credentials } from '../transport/netrc.js';
import { DEFAULT_RETRY, PermanentError, statusOf, withRetries, type RetryPolicy } from '../transport/retry.js';
import { idleWatchdog } from '../transport/watchdog.js';
import { parseSinkName } from '../format/names.js';
import { SourceReadError, type RestoreSource, type SourceSpec } from './source.js';

const IDLE_MS = 120_000;
/** Breaks of one file's body taken up again where they happened (open()), before giving up. */
const RESUMES = 5;
const TLS_REFUSAL = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/;

/** One line an operator can act on, for a failed request to `url`. */
export function requestProblem(err: unknown, url: string, netrc: string): DeaddropError {
  const status = statusOf(err);
  if (status === 401) return new UsageError(`credentials refused by ${url} (check --netrc ${netrc})`);
  if (status === 403 || status === 405)
    return new UsageError(`this account may not read (GET) on ${url}: needs a sink --reader account`);
  if (status !== undefined) return new DeaddropError(`${url}: HTTP ${status}`);
  if (err instanceof DeaddropError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const msg = describeError(err);
  return new DeaddropError(`cannot read ${url}: ${msg}${code && !msg.includes(code) ? ` (${code})` : ''}`);
}

/** Counts the body and fails when it is not `size` bytes (a cut connection, a changed file). */
function exactly(size: number | undefined, what: string, onChunk: () => void): Transform & { got: number } {
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      onChunk();
      counted.got += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      if (size !== undefined && counted.got !== size)
        done(new DeaddropError(`${what}: got ${counted.got} of ${size} bytes`));
      else done();
    },
  });
  const counted = Object.assign(t, { got: 0 });
  return counted;
}

export class WebDavSource implements RestoreSource {
  private listing: Map<string, number> | undefined;
  dirName?: string;

  constructor(
    readonly where: string,
    private readonly client: WebDAVClient,
    private readonly agents: SinkAgents,
    private readonly netrcFile: string,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {}

  async list(): Promise<Map<string, number>> {
    if (this.listing) return this.listing;
    const entries = await this.request(
      this.where,
      async () => (await this.client.getDirectoryContents('/', { signal: AbortSignal.timeout(IDLE_MS) })) as FileStat[],
    );
    const out = new Map<string, number>();
    for (const e of entries) if (e.type === 'file') out.set(e.basename, e.size);
    return (this.listing = out);
  }

  /**
   * The file's bytes. Where the body breaks off (a reset, a proxy's timeout, a stall of
   * IDLE_MS) before the listed size, it is asked for again from there (`Range: bytes=N-`) up
   * to RESUMES times, and the reader sees one unbroken stream: a restore of many GiB over a
   * flaky link is not started over for one cut. A sink that answers the whole file again
   * (200) has what was already read skipped. The whole file's hashes are still checked.
   */
  async open(name: string): Promise<Readable> {
    const url = this.where + encodeURIComponent(name);
    const size = (await this.list()).get(name);
    let dog = idleWatchdog(IDLE_MS);
    const counted = exactly(size, url, () => dog.poke());
    let body: Readable | undefined;
    let received = 0;
    let resumes = 0;
    const fail = (err: Error) => counted.destroy(err);
    const follow = (next: Readable, skip: number) => {
      body = next;
      next.on('data', (chunk: Buffer) => {
        if (skip >= chunk.length) return void (skip -= chunk.length);
        const part = skip > 0 ? chunk.subarray(skip) : chunk;
        skip = 0;
        received += part.length;
        if (!counted.write(part)) next.pause();
      });
      // a consumer that is busy (back-pressure pauses the body) is not a stalled sink
      next.on('pause', () => dog.stop());
      next.on('resume', () => dog.poke());
      next.once('end', () => (size !== undefined && received < size ? broken('it ended early') : counted.end()));
      next.once('error', (err) => broken(dog.signal.aborted ? `no data for ${IDLE_MS / 1000} s` : describeError(err)));
    };
    const broken = (why: string) => {
      body?.destroy();
      dog.stop();
      const lost = `${url}: connection lost after ${received} bytes (${why})`;
      if (counted.destroyed) return;
      if (size === undefined || resumes++ >= RESUMES) return fail(new SourceReadError(lost));
      dog = idleWatchdog(IDLE_MS);
      this.get(name, url, received, size, dog.signal).then(
        ({ stream, skip }) => (counted.destroyed ? stream.destroy() : follow(stream, skip)),
        (err: unknown) => fail(new SourceReadError(`${lost}; asking for the rest failed: ${describeError(err)}`)),
      );
    };
    counted.on('drain', () => body?.resume());
    counted.once('close', () => {
      dog.stop();
      body?.destroy();
    });
    const first = await this.get(name, url, 0, size, dog.signal).catch((err: unknown) => {
      dog.stop();
      throw err;
    });
    follow(first.stream, first.skip);
    return counted;
  }

  /** A GET of `name` from byte `from` on; `skip`: bytes at its start that come before `from` (a 200). */
  private async get(
    name: string,
    url: string,
    from: number,
    size: number | undefined,
    signal: AbortSignal,
  ): Promise<{ stream: Readable; skip: number }> {
    const headers = from > 0 ? { Range: `bytes=${from}-` } : undefined;
    const res = await this.request(url, () => this.client.customRequest(name, { method: 'GET', signal, headers }));
    const body = (res as { body?: unknown }).body;
    if (!body) throw new DeaddropError(`${url}: empty answer`);
    // node-fetch (what webdav uses on Node) gives a Node stream; a web stream is converted
    const stream = body instanceof Readable ? body : Readable.fromWeb(body as Parameters<typeof Readable.fromWeb>[0]);
    if (from === 0 || res.status === 200) return { stream, skip: from };
    const range = res.headers.get('content-range') ?? '';
    if (res.status === 206 && range === `bytes ${from}-${size! - 1}/${size}`) return { stream, skip: 0 };
    stream.destroy();
    throw new DeaddropError(`${url}: asked for bytes ${from}- of ${size}, got HTTP ${res.status} ${range}`.trim());
  }

  async readSmall(name: string): Promise<Buffer> {
    const url = this.where + encodeURIComponent(name);
    return this.request(url, async () => {
      const res = await this.client.customRequest(name, { method: 'GET', signal: AbortSignal.timeout(IDLE_MS) });
      return Buffer.from(await res.arrayBuffer());
    });
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /** One request with retries; failures become one clear line. */
  private async request<T>(url: string, attempt: () => Promise<T>): Promise<T> {
    try {
      return await withRetries(async () => {
        try {
          return await attempt();
        } catch (err) {
          // a certificate the CA does not vouch for will not change by asking again
          if (TLS_REFUSAL.test((err as NodeJS.ErrnoException).code ?? '')) throw new PermanentError(describeError(err));
          throw err;
        }
      }, this.retry);
    } catch (err) {
      throw Object.assign(requestProblem(err, url, this.netrcFile), { status: statusOf(err) });
    }
  }
}

function parseFrom(from: string): URL {
  let url: URL;
  try {
    url = new URL(from);
  } catch {
    throw new UsageError(`--from ${from}: not a valid URL`);
  }
  if (url.username || url.password)
    throw new UsageError('--from: the URL must not contain credentials (they belong in the --netrc file)');
  if (url.search || url.hash) throw new UsageError(`--from ${url.href}: no query or fragment`);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

async function caFor(url: URL, ca: string | undefined): Promise<Buffer | undefined> {
  if (ca === undefined) return undefined;
  if (url.protocol !== 'https:') throw new UsageError(`--ca is for https:// sinks; ${url.href} is not`);
  return readFile(ca).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`--ca ${ca}: cannot read (${err.code})`);
  });
}

/**
 * The host directory behind --from: URL/HOST/ when the sink has it, else URL itself when it
 * holds backup sets (it already names the host directory).
 */
export async function openWebDavSource(spec: SourceSpec, retry?: RetryPolicy): Promise<WebDavSource> {
  const base = parseFrom(spec.from);
  if (spec.netrc === undefined) throw new UsageError(`--from ${base.href}: give --netrc FILE with the reader account`);
  const netrc = await Netrc.load(spec.netrc);
  const creds: Credentials = netrc.credentialsFor(base.hostname.replace(/^\[(.*)\]$/, '$1'));
  const ca = await caFor(base, spec.ca);
  const hostUrl = new URL(encodeURIComponent(spec.host) + '/', base).href;
  const named = base.pathname.endsWith(`/${encodeURIComponent(spec.host)}/`);
  const candidates = named ? [base.href, hostUrl] : [hostUrl, base.href];
  for (const url of candidates) {
    const agents = sinkAgents(ca);
    const client = createClient(url, {
      username: creds.login,
      password: creds.password,
      httpAgent: agents.http,
      httpsAgent: agents.https,
    });
    const source = new WebDavSource(url, client, agents, netrc.file, retry);
    try {
      const names = await source.list();
      if (url === hostUrl) return source;
      if ([...names.keys()].some((n) => parseSinkName(n)?.type === 'duplicity')) {
        // the URL names the host directory itself
        source.dirName = decodeURIComponent(base.pathname.split('/').filter(Boolean).pop() ?? '');
        return source;
      }
    } catch (err) {
      source.close();
      if ((err as { status?: number }).status !== 404) throw err;
      continue;
    }
    source.close();
  }
  throw new UsageError(`--from ${base.href}: no ${spec.host}/ directory and no backup sets in it`);
}
