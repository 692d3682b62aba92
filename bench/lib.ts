import { spawn } from 'node:child_process';

/** Wall time, CPU and peak RSS of one child process, measured by GNU time (apt: time). */
export interface Measurement {
  wallSeconds: number;
  userSeconds: number;
  systemSeconds: number;
  maxRssMiB: number;
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function measure(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: string } = {},
): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '\n@@time %e %U %S %M', cmd, ...args], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    if (opts.stdin) child.stdin!.end(opts.stdin);
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /@@time ([\d.]+) ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(err);
      if (!m) return reject(new Error(`${cmd} ${args.join(' ')}: no timing (exit ${code}): ${err.slice(-500)}`));
      resolve({
        wallSeconds: Number(m[1]),
        userSeconds: Number(m[2]),
        systemSeconds: Number(m[3]),
        maxRssMiB: Number(m[4]) / 1024,
        exitCode: code ?? -1,
        stdout: out,
        stderr: err.slice(0, m.index),
      });
    });
  });
}

/** The run with the median wall time (of an odd count, the middle one). */
export function median(ms: Measurement[]): Measurement {
  return [...ms].sort((a, b) => a.wallSeconds - b.wallSeconds)[Math.floor(ms.length / 2)]!;
}

/** Print rows as an aligned text table (first row is the header). */
export function printTable(title: string, rows: (string | number)[][]): void {
  const text = rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)));
  const widths = text[0]!.map((_, i) => Math.max(...text.map((r) => r[i]!.length)));
  console.log(`\n## ${title}`);
  for (const [i, r] of text.entries()) {
    console.log(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

/** "ok" or "MISSED" for a target, for the summary column. */
export function verdict(ok: boolean): string {
  return ok ? 'ok' : 'MISSED';
}
