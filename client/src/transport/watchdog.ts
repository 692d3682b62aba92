/** An AbortSignal that fires when nothing has moved for `ms` (poke() on every chunk). */
export interface IdleWatchdog {
  signal: AbortSignal;
  poke: () => void;
  stop: () => void;
}

export function idleWatchdog(ms: number): IdleWatchdog {
  const ctl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ctl.abort(new Error(`idle for ${ms} ms`)), ms);
    timer.unref();
  };
  arm();
  return {
    signal: ctl.signal,
    poke: arm,
    stop: () => clearTimeout(timer),
  };
}
