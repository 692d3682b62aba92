/**
 * Around one backup run: metrics file and pings at the start and at the end. Nothing here can
 * fail the backup: problems with the metrics file or a ping are logged as warnings.
 *
 * A locked run (another run holds the lock) writes status 2 but sends no end ping: the run
 * holding the lock will report, and a hung one shows as a missing success ping.
 *
 * A run stopped by a signal finishes in a hurry (systemd kills what is left after
 * TimeoutStopSec): its end ping gets one short try, and waits for the start ping no longer.
 */
import type { ClientConfig } from '@deaddrop/common/config/client';
import { describeError } from '@deaddrop/common/errors';
import type { Logger } from '@deaddrop/common/log';
import type { BackupMetrics } from './metrics.js';
import { readPreviousMetrics, writeMetricsFile } from './metrics-file.js';
import { runKind, type RunOutcome } from './outcome.js';
import { ping, type PingOptions } from './pings.js';
import { finishedMetrics, startedMetrics } from './run-metrics.js';
import type { ScanProgress } from './scan-progress.js';
import { runSummary } from './summary.js';

export interface OpsOptions {
  config: ClientConfig;
  log: Logger;
  ping?: Omit<PingOptions, 'log'>;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The end ping's one try, and the most it waits for the start ping, when in a hurry. */
const HURRIED_PING_MS = 3000;

export class RunReporter {
  private readonly startedAt = Date.now();
  private metrics: BackupMetrics | undefined;
  private startPing: Promise<unknown> = Promise.resolve();
  /** The last scan progress, for the tree size metrics. */
  scan: ScanProgress | undefined;

  private constructor(private readonly opts: OpsOptions) {}

  /** The tree's size at the previous run (for the progress ETA). */
  get expectedBytes(): number | undefined {
    return this.metrics?.sourceBytes;
  }

  /** Status -1 in the metrics file; the start ping goes out without holding up the backup. */
  static async start(opts: OpsOptions): Promise<RunReporter> {
    const r = new RunReporter(opts);
    const { config } = opts;
    if (config.pings?.start) r.startPing = ping(config.pings.start, 'start', undefined, r.pingOptions());
    if (config.metricsFile) {
      try {
        const prev = await readPreviousMetrics(config.metricsFile, config.archiveDir);
        r.metrics = startedMetrics(
          prev,
          config.sinks.map((s) => s.name),
          nowSeconds(),
        );
        await writeMetricsFile(config.metricsFile, config.host, r.metrics);
      } catch (err) {
        opts.log.warn(`metrics file ${config.metricsFile}: ${describeError(err)}`);
      }
    }
    return r;
  }

  async finish(outcome: RunOutcome, opts: { hurried?: boolean } = {}): Promise<void> {
    const { config, log } = this.opts;
    const kind = runKind(outcome);
    if (config.metricsFile && this.metrics) {
      const file = config.metricsFile;
      const seconds = outcome.kind === 'finished' ? outcome.run.seconds : (Date.now() - this.startedAt) / 1000;
      try {
        // Read again: a run refused by our lock has added to the counters meanwhile.
        const now = await readPreviousMetrics(file, config.archiveDir);
        const sinks = config.sinks.map((s) => s.name);
        const started = startedMetrics(now, sinks, this.metrics.lastStart ?? nowSeconds());
        const m = finishedMetrics(started, outcome, seconds, nowSeconds(), this.scan);
        await writeMetricsFile(file, config.host, m);
      } catch (err) {
        log.warn(`metrics file ${file}: ${describeError(err)}`);
      }
    }
    // healthchecks counts start -> end, so the end ping waits for the start ping
    if (opts.hurried) await Promise.race([this.startPing, new Promise((r) => setTimeout(r, HURRIED_PING_MS).unref())]);
    else await this.startPing;
    const url = kind === 'ok' ? config.pings?.success : kind === 'locked' ? undefined : config.pings?.fail;
    const pingOpts = opts.hurried
      ? { ...this.pingOptions(), timeoutMs: HURRIED_PING_MS, retries: 0 }
      : this.pingOptions();
    if (url) await ping(url, kind === 'ok' ? 'success' : 'fail', runSummary(config.host, outcome), pingOpts);
  }

  private pingOptions(): PingOptions {
    return { ...this.opts.ping, log: this.opts.log };
  }
}
