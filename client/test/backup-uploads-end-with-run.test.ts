/**
 * No upload outlives its run: when a backup fails or is interrupted while a PUT is under way
 * (an early upload of a volume, a file of delivery), the run stops it and waits for it before
 * it returns (and releases its lock), so a later run never races a PUT still going.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { loadClientConfig } from '@deaddrop/common/config/client';
import { Logger } from '@deaddrop/common/log';
import { runBackup } from '@deaddrop/client/backup/run';
import type { SinkTargetLike } from '@deaddrop/client/transport/file-target';
import { WebDavTarget } from '@deaddrop/client/transport/webdav-target';
import { missingTools, seededBytes, startEmbeddedSink, startSinkProxy } from '@deaddrop/test';
import { creds, FAST, oneFileHost } from './fault-rig.js';

/**
 * In front of a real sink: a PUT that `hold` picks has its body read but is never answered (a
 * sink that is slow to answer); `onHeld` hears of it. Everything else is passed on.
 */
async function holdingProxy(port: number, hold: (url: string) => boolean, onHeld: () => void) {
  const held: { res: ServerResponse; closed: Promise<void> }[] = [];
  const proxy = await startSinkProxy(port, {
    intercept(req, res) {
      if (req.method !== 'PUT' || !hold(req.url ?? '')) return false;
      held.push({ res, closed: new Promise((r) => res.once('close', () => r())) });
      req.resume(); // the body is read (a paused socket would not notice the client going away)
      onHeld();
      return true;
    },
  });
  return { held, url: `http://127.0.0.1:${proxy.port}/webdav/h1/`, close: proxy.close };
}

/** The WebDAV target, counting its requests under way (PUT or PROPFIND). */
class Counted implements SinkTargetLike {
  inFlight = 0;
  constructor(private readonly inner: WebDavTarget) {}
  get name() {
    return this.inner.name;
  }
  private async count<T>(p: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await p();
    } finally {
      this.inFlight--;
    }
  }
  put(remoteName: string, body: () => Readable, size: number, signal?: AbortSignal) {
    return this.count(() => this.inner.put(remoteName, body, size, signal));
  }
  list(signal?: AbortSignal) {
    return this.count(() => this.inner.list(signal));
  }
  close() {
    this.inner.close();
  }
}

const host = (prefix: string) => oneFileHost(prefix, 'a.bin', seededBytes('a', 300_000), { volumeSize: '64KiB' });

test(
  'a run that fails after writing its set stops its early uploads before it returns',
  { skip: missingTools('openssl'), timeout: 120_000 },
  async () => {
    const c = await host('deaddrop-early-stopped-');
    // the state cannot be written: the run fails after the set is complete in the spool
    mkdirSync(join(c.archiveDir, 'state.json', 'in-the-way'), { recursive: true });
    const sink = await startEmbeddedSink({ hosts: { h1: creds.password } });
    const proxy = await holdingProxy(
      sink.port,
      () => true,
      () => {},
    );
    const target = new Counted(new WebDavTarget({ name: 'slow', url: proxy.url, credentials: creds, retry: FAST }));
    try {
      const run = runBackup({
        config: loadClientConfig(c.config),
        configFile: c.config,
        mode: 'auto',
        log: new Logger({ level: 'error' }),
        targets: [target],
      });
      await assert.rejects(run, /state\.json|EISDIR/);
      const inFlight = target.inFlight;
      assert.ok(proxy.held.length > 0, 'an early upload reached the sink');
      assert.equal(inFlight, 0, 'no request to the sink is under way once the run has returned');
      // and the sink saw each held PUT ended by the client (never answered)
      await Promise.all(proxy.held.map((h) => h.closed));
    } finally {
      proxy.close();
      await sink.stop();
    }
  },
);

test(
  'a run interrupted while delivering stops the upload under way before it returns',
  { skip: missingTools('openssl'), timeout: 120_000 },
  async () => {
    const c = await host('deaddrop-delivery-stopped-');
    const sink = await startEmbeddedSink({ hosts: { h1: creds.password } });
    const interrupt = new AbortController();
    const proxy = await holdingProxy(
      sink.port,
      (url) => url.endsWith('.sha256sums'), // sent by delivery only, after the volumes went ahead
      () => interrupt.abort(new Error('interrupted by SIGTERM')),
    );
    const target = new Counted(new WebDavTarget({ name: 'slow', url: proxy.url, credentials: creds, retry: FAST }));
    try {
      const run = runBackup({
        config: loadClientConfig(c.config),
        configFile: c.config,
        mode: 'auto',
        log: new Logger({ level: 'error' }),
        targets: [target],
        signal: interrupt.signal,
      });
      await assert.rejects(run, /interrupted by SIGTERM/);
      const inFlight = target.inFlight;
      assert.equal(proxy.held.length, 1, 'the sums file reached the sink');
      assert.equal(inFlight, 0, 'no request to the sink is under way once the run has returned');
      await Promise.all(proxy.held.map((h) => h.closed));
    } finally {
      proxy.close();
      await sink.stop();
    }
  },
);
