/**
 * Operator-facing log lines on stderr. With --json, events go to stdout as JSON lines instead
 * (so a script can follow a run); progress redraws one line only when stderr is a TTY.
 */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface LoggerOptions {
  level?: LogLevel;
  json?: boolean;
  /** Where human lines go; defaults to process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

export class Logger {
  readonly level: LogLevel;
  readonly json: boolean;
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private progressShown = false;

  constructor(opts: LoggerOptions = {}) {
    this.level = opts.level ?? 'info';
    this.json = opts.json ?? false;
    this.stream = opts.stream ?? process.stderr;
  }

  get isTTY(): boolean {
    return Boolean(this.stream.isTTY);
  }

  log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
    if (ORDER[level] > ORDER[this.level]) return;
    if (this.json) {
      process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level, message, ...fields }) + '\n');
      return;
    }
    this.clearProgress();
    this.stream.write(`${level === 'info' ? '' : level + ': '}${message}\n`);
  }

  error(message: string, fields?: Record<string, unknown>): void {
    this.log('error', message, fields);
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.log('warn', message, fields);
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.log('info', message, fields);
  }
  debug(message: string, fields?: Record<string, unknown>): void {
    this.log('debug', message, fields);
  }

  /** A JSON event (only in --json mode); human mode ignores it. */
  event(type: string, fields: Record<string, unknown> = {}): void {
    if (this.json)
      process.stdout.write(JSON.stringify({ time: new Date().toISOString(), event: type, ...fields }) + '\n');
  }

  /** Redraw the progress line (TTY only). */
  progress(line: string): void {
    if (!this.isTTY || this.json) return;
    this.stream.write(`\r\x1b[K${line}`);
    this.progressShown = true;
  }

  clearProgress(): void {
    if (this.progressShown) {
      this.stream.write('\r\x1b[K');
      this.progressShown = false;
    }
  }
}
