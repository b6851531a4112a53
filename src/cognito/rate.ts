import { sleep } from '../core/concurrency.js';
import { QUOTA_CATEGORIES, type QuotaCategory } from './quotas.js';

/**
 * A pacing token bucket with AIMD rate control, shared by every request of one quota category
 * in the process.
 *
 * - Pacing: each acquire reserves the next free slot (1/rate apart) with a small burst
 *   allowance, so the category runs at `rate` without bursts that would trip Cognito.
 * - Multiplicative decrease: on TooManyRequestsException the rate halves (at most once per
 *   `decreaseCooldownMs`, since one burst of in-flight requests throttles together).
 * - Additive increase: the rate climbs back towards the ceiling by `recoveryPerSecond` of the
 *   ceiling per second without throttles, so a production app sharing the quota is not starved.
 */
export interface LimiterOptions {
  /** Highest rate this limiter may reach (requests per second). */
  ceiling: number;
  /** Lowest rate it drops to on throttling. */
  floor?: number;
  /** Slots that may be used at once after idling (burst). */
  burst?: number;
  decreaseFactor?: number;
  recoveryPerSecond?: number;
  decreaseCooldownMs?: number;
  now?: () => number;
}

export interface LimiterStats {
  acquired: number;
  throttles: number;
  currentRate: number;
  ceiling: number;
  waitedMs: number;
}

export class AdaptiveRateLimiter {
  readonly ceiling: number;
  private rate: number;
  private readonly floor: number;
  private readonly burst: number;
  private readonly decreaseFactor: number;
  private readonly recoveryPerSecond: number;
  private readonly decreaseCooldownMs: number;
  private readonly now: () => number;
  private nextFree = 0;
  private lastAdjust: number;
  private lastDecrease = -Infinity;
  private stats = { acquired: 0, throttles: 0, waitedMs: 0 };

  constructor(opts: LimiterOptions) {
    if (!(opts.ceiling > 0)) throw new RangeError('rate ceiling must be > 0');
    this.ceiling = opts.ceiling;
    this.rate = opts.ceiling;
    this.floor = Math.min(opts.floor ?? Math.max(0.5, opts.ceiling * 0.05), opts.ceiling);
    this.burst = Math.max(1, opts.burst ?? 1);
    this.decreaseFactor = opts.decreaseFactor ?? 0.5;
    this.recoveryPerSecond = opts.recoveryPerSecond ?? 0.04;
    this.decreaseCooldownMs = opts.decreaseCooldownMs ?? 1000;
    this.now = opts.now ?? (() => performance.now());
    this.lastAdjust = this.now();
  }

  get currentRate(): number {
    this.recover();
    return this.rate;
  }

  /** Computes how long the caller must wait for its slot and reserves it. */
  reserve(): number {
    this.recover();
    const now = this.now();
    const interval = 1000 / this.rate;
    // Allow up to `burst` slots of credit after idling, never more.
    const earliest = now - interval * (this.burst - 1);
    const slot = Math.max(this.nextFree, earliest);
    this.nextFree = slot + interval;
    this.stats.acquired++;
    const wait = Math.max(0, slot - now);
    this.stats.waitedMs += wait;
    return wait;
  }

  /**
   * Waits for a slot. `maxAheadMs` makes the caller yield: it reserves only while the schedule
   * reaches at most that far ahead, so many parallel background callers (list shards) cannot
   * queue far in front of a sequential chain (a group's member pages) that needs each answer
   * before its next request.
   */
  async acquire(signal?: AbortSignal, maxAheadMs = Infinity): Promise<void> {
    for (;;) {
      const ahead = this.nextFree - this.now();
      if (ahead <= maxAheadMs) break;
      await sleep(ahead - maxAheadMs, signal);
    }
    const wait = this.reserve();
    if (wait > 0) await sleep(wait, signal);
  }

  /** Called when the service answered TooManyRequestsException. */
  onThrottle(): void {
    this.stats.throttles++;
    const now = this.now();
    if (now - this.lastDecrease < this.decreaseCooldownMs) return;
    // Credit the recovery earned up to now before halving, then start the cooldown.
    this.recover();
    this.lastDecrease = now;
    this.rate = Math.max(this.floor, this.rate * this.decreaseFactor);
    // Push the schedule out so the queue drains at the new rate.
    this.nextFree = Math.max(this.nextFree, now + 1000 / this.rate);
  }

  private recover(): void {
    const now = this.now();
    // No recovery during the cooldown after a decrease: count only time since it ended, so the
    // rate does not depend on how often it is looked at.
    const from = Math.max(this.lastAdjust, this.lastDecrease + this.decreaseCooldownMs);
    this.lastAdjust = now;
    const dt = (now - from) / 1000;
    if (dt > 0 && this.rate < this.ceiling) {
      this.rate = Math.min(this.ceiling, this.rate + this.ceiling * this.recoveryPerSecond * dt);
    }
  }

  snapshot(): LimiterStats {
    return {
      acquired: this.stats.acquired,
      throttles: this.stats.throttles,
      currentRate: this.currentRate,
      ceiling: this.ceiling,
      waitedMs: Math.round(this.stats.waitedMs),
    };
  }
}

export interface RateOptions {
  /** Cap every category at this share (0 < share ≤ 1) of its default quota. */
  rateShare?: number;
  /** Absolute overrides, requests per second, per category (accounts with raised quotas). */
  maxRps?: Partial<Record<QuotaCategory, number>>;
  /** Turn pacing off (unit tests against mocks). */
  unlimited?: boolean;
}

export interface CategoryReport {
  category: QuotaCategory;
  ceilingRps: number;
  calls: number;
  throttles: number;
  retries: number;
  achievedRps: number;
  shareOfQuota: number;
}

/** The set of limiters for one process: one per category, plus 5-RPS per-pool-operation caps. */
export class RateController {
  private readonly categories = new Map<QuotaCategory, AdaptiveRateLimiter>();
  private readonly perPoolOp = new Map<string, AdaptiveRateLimiter>();
  private readonly counters = new Map<
    QuotaCategory,
    { calls: number; retries: number; first: number; last: number }
  >();

  constructor(readonly options: RateOptions = {}) {
    const share = options.rateShare ?? 1;
    if (!(share > 0 && share <= 1)) throw new RangeError('rate share must be in (0, 1]');
  }

  ceilingOf(category: QuotaCategory): number {
    const override = this.options.maxRps?.[category];
    if (override !== undefined) return override;
    return QUOTA_CATEGORIES[category].rps * (this.options.rateShare ?? 1);
  }

  limiter(category: QuotaCategory): AdaptiveRateLimiter {
    let l = this.categories.get(category);
    if (!l) {
      l = new AdaptiveRateLimiter({ ceiling: this.ceilingOf(category) });
      this.categories.set(category, l);
    }
    return l;
  }

  private poolOpLimiter(
    category: QuotaCategory,
    op: string,
    poolId: string,
  ): AdaptiveRateLimiter | undefined {
    const perPool = QUOTA_CATEGORIES[category].perPoolOperationRps;
    if (perPool === undefined) return undefined;
    const key = `${poolId}:${op}`;
    let l = this.perPoolOp.get(key);
    if (!l) {
      const share = this.options.rateShare ?? 1;
      l = new AdaptiveRateLimiter({ ceiling: Math.min(perPool * share, this.ceilingOf(category)) });
      this.perPoolOp.set(key, l);
    }
    return l;
  }

  async acquire(
    category: QuotaCategory,
    op: string,
    poolId: string | undefined,
    signal?: AbortSignal,
    maxAheadMs?: number,
  ): Promise<void> {
    if (this.options.unlimited) return;
    const pool = poolId ? this.poolOpLimiter(category, op, poolId) : undefined;
    if (pool) await pool.acquire(signal);
    await this.limiter(category).acquire(signal, maxAheadMs);
  }

  recordCall(category: QuotaCategory, retry: boolean): void {
    const now = performance.now();
    let c = this.counters.get(category);
    if (!c) {
      c = { calls: 0, retries: 0, first: now, last: now };
      this.counters.set(category, c);
    }
    c.calls++;
    if (retry) c.retries++;
    c.last = now;
  }

  onThrottle(category: QuotaCategory, op: string, poolId: string | undefined): void {
    if (this.options.unlimited) {
      this.limiter(category); // keep counters visible
    }
    this.limiter(category).onThrottle();
    if (poolId) this.poolOpLimiter(category, op, poolId)?.onThrottle();
  }

  /** Per-category numbers for reports: calls, throttles, retries, achieved rate. */
  report(): CategoryReport[] {
    const out: CategoryReport[] = [];
    for (const [category, c] of this.counters) {
      const l = this.categories.get(category);
      const seconds = Math.max((c.last - c.first) / 1000, 0.001);
      const ceilingRps = this.ceilingOf(category);
      const achievedRps = c.calls > 1 ? (c.calls - 1) / seconds : c.calls;
      out.push({
        category,
        ceilingRps,
        calls: c.calls,
        throttles: l?.snapshot().throttles ?? 0,
        retries: c.retries,
        achievedRps: Math.round(achievedRps * 100) / 100,
        shareOfQuota: Math.round((achievedRps / ceilingRps) * 1000) / 1000,
      });
    }
    return out.sort((a, b) => b.calls - a.calls);
  }
}
