import { performance } from 'node:perf_hooks';

/**
 * Records when this process could not run (CPU starvation on a loaded machine, long synchronous
 * work): a timer due every `intervalMs` that fires more than `slackMs` late marks the time in
 * between as stalled. Timed assertions about what this process did (a rate, a share of a quota)
 * can then be judged over the time it could run, on the same clock (performance.now) as the
 * quota proxy's buckets, instead of failing whenever the machine is busy.
 */
export interface StallMonitor {
  /** Stalled milliseconds within [from, to] (performance.now times). */
  stalledWithin(from: number, to: number): number;
  /** Every stall so far: [start, end] in performance.now ms. */
  readonly stalls: readonly (readonly [number, number])[];
  stop(): void;
}

export function monitorStalls(intervalMs = 10, slackMs = 10): StallMonitor {
  const stalls: [number, number][] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const t = performance.now();
    if (t - last - intervalMs > slackMs) stalls.push([last + intervalMs, t]);
    last = t;
  }, intervalMs);
  timer.unref();
  return {
    stalls,
    stalledWithin(from, to) {
      let ms = 0;
      for (const [a, b] of stalls) ms += Math.max(0, Math.min(b, to) - Math.max(a, from));
      return ms;
    },
    stop: () => clearInterval(timer),
  };
}
