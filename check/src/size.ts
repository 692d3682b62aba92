/** Size sanity: a backup far smaller or larger than usual is empty, garbage or a broken client. */
import { formatBytes } from '@deaddrop/common/units';
import { problem, type Problem } from './report.js';

/** Fewer earlier sets than this and a median says nothing; no verdict. */
export const MIN_HISTORY = 2;

export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function sizeProblem(
  size: number,
  earlier: number[],
  bounds: { min: number; max: number },
  what: string,
): Problem | undefined {
  if (earlier.length < MIN_HISTORY) return undefined;
  const m = median(earlier);
  if (m <= 0) return undefined;
  const ratio = size / m;
  const detail = `${what} is ${formatBytes(size)}, ${Math.round(ratio * 100)}% of the median ${formatBytes(m)} of ${earlier.length} earlier`;
  if (ratio < bounds.min) return problem('size-too-small', `${detail} (below ${Math.round(bounds.min * 100)}%)`);
  if (ratio > bounds.max) return problem('size-too-large', `${detail} (above ${Math.round(bounds.max * 100)}%)`);
  return undefined;
}
