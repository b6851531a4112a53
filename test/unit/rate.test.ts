import { afterEach, describe, expect, it, vi } from 'vitest';
import { QUOTA_CATEGORIES } from '../../src/cognito/quotas.js';
import { AdaptiveRateLimiter, RateController } from '../../src/cognito/rate.js';

/** A hand-driven clock in milliseconds. */
function clock(start = 0) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
    set(ms: number) {
      t = ms;
    },
  };
}

function limiter(opts: Partial<ConstructorParameters<typeof AdaptiveRateLimiter>[0]> = {}) {
  const c = clock();
  const l = new AdaptiveRateLimiter({ ceiling: 20, now: c.now, ...opts });
  return { c, l };
}

describe('AdaptiveRateLimiter: pacing', () => {
  it('spaces back-to-back slots 1/rate apart', () => {
    const { l } = limiter({ ceiling: 10 });
    const waits = Array.from({ length: 5 }, () => l.reserve());
    expect(waits).toEqual([0, 100, 200, 300, 400]);
    expect(l.snapshot()).toMatchObject({ acquired: 5, waitedMs: 1000, throttles: 0 });
  });

  it('keeps the spacing as time passes and never lets a caller jump the queue', () => {
    const { c, l } = limiter({ ceiling: 4 }); // 250 ms apart
    expect(l.reserve()).toBe(0); // slot 0
    expect(l.reserve()).toBe(250); // slot 250
    c.advance(100);
    expect(l.reserve()).toBe(400); // slot 500
    c.advance(1000); // t = 1100, idle since 500: no saved-up credit with burst 1
    expect(l.reserve()).toBe(0); // slot 1100
    expect(l.reserve()).toBe(250); // slot 1350
  });

  it('allows at most `burst` immediate slots after idling, however long the idle', () => {
    const { c, l } = limiter({ ceiling: 10, burst: 3 });
    c.advance(60_000);
    const waits = Array.from({ length: 5 }, () => l.reserve());
    expect(waits).toEqual([0, 0, 0, 100, 200]);
  });

  it('acquire() waits for its slot and aborts with the signal', async () => {
    const l = new AdaptiveRateLimiter({ ceiling: 1 }); // real clock: 1 s apart
    await l.acquire(); // immediate
    const ac = new AbortController();
    const pending = l.acquire(ac.signal);
    ac.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
  });

  it('lets a sequential chain in ahead of background callers, which queue at most maxAheadMs', async () => {
    vi.useFakeTimers();
    try {
      const l = new AdaptiveRateLimiter({ ceiling: 10, now: () => Date.now() }); // 100 ms apart
      // Sixteen background shards arrive at once; only ~3 may reserve (≤ 250 ms ahead).
      const order: string[] = [];
      const shards = Array.from({ length: 16 }, (_, i) =>
        l.acquire(undefined, 250).then(() => order.push(`shard${i}`)),
      );
      await vi.advanceTimersByTimeAsync(0);
      // A chain's next page asks now: it is served within the horizon, not after 16 shards.
      const chain = l.acquire().then(() => order.push('chain'));
      await vi.advanceTimersByTimeAsync(500);
      expect(order.indexOf('chain')).toBeGreaterThanOrEqual(0);
      expect(order.indexOf('chain')).toBeLessThanOrEqual(5);
      await vi.advanceTimersByTimeAsync(2_000);
      await Promise.all([...shards, chain]);
      expect(order).toHaveLength(17);
      // Everyone was still paced at the rate: 17 slots take 1.6 s.
      expect(l.snapshot().acquired).toBe(17);
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a ceiling that is not positive', () => {
    expect(() => new AdaptiveRateLimiter({ ceiling: 0 })).toThrow(RangeError);
    expect(() => new AdaptiveRateLimiter({ ceiling: Number.NaN })).toThrow(RangeError);
  });
});

describe('AdaptiveRateLimiter: multiplicative decrease', () => {
  it('halves the rate on a throttle and paces at the new rate', () => {
    const { c, l } = limiter({ ceiling: 20 });
    l.reserve(); // slot 0
    l.onThrottle();
    expect(l.currentRate).toBe(10);
    // The schedule is pushed out by one new interval (100 ms) from now.
    expect(l.reserve()).toBe(100);
    expect(l.reserve()).toBe(200);
    c.advance(200);
    expect(l.reserve()).toBe(100);
    expect(l.snapshot().throttles).toBe(1);
  });

  it('decreases at most once per cooldown, counting every throttle', () => {
    const { c, l } = limiter({ ceiling: 20, decreaseCooldownMs: 1000 });
    // A burst of in-flight requests throttles together: one decrease.
    for (let i = 0; i < 16; i++) l.onThrottle();
    expect(l.currentRate).toBe(10);
    c.advance(999);
    l.onThrottle();
    expect(l.currentRate).toBe(10);
    c.advance(1);
    l.onThrottle();
    expect(l.currentRate).toBe(5);
    expect(l.snapshot().throttles).toBe(18);
  });

  it('never goes below the floor', () => {
    const { c, l } = limiter({ ceiling: 20, floor: 3 });
    for (let i = 0; i < 10; i++) {
      l.onThrottle();
      c.advance(1000);
    }
    // Recovery after the last cooldown is nil: the cooldown just ended.
    expect(l.currentRate).toBe(3);
    const d = limiter({ ceiling: 20 }); // default floor: max(0.5, 5 % of the ceiling) = 1
    for (let i = 0; i < 10; i++) {
      d.l.onThrottle();
      d.c.advance(1000);
    }
    expect(d.l.currentRate).toBe(1);
  });
});

describe('AdaptiveRateLimiter: additive recovery', () => {
  it('does not recover during the cooldown, then climbs linearly to the ceiling and stops', () => {
    const { c, l } = limiter({ ceiling: 20, recoveryPerSecond: 0.04, decreaseCooldownMs: 1000 });
    l.onThrottle(); // t = 0: 20 → 10
    c.set(1000);
    expect(l.currentRate).toBe(10); // the cooldown just ended: nothing earned yet
    c.set(2000);
    expect(l.currentRate).toBeCloseTo(10.8, 9); // + 4 % of 20 per second
    c.set(6000);
    expect(l.currentRate).toBeCloseTo(14, 9);
    c.set(13_500); // 12.5 s after the cooldown: 10 + 12.5 × 0.8 = 20
    expect(l.currentRate).toBeCloseTo(20, 9);
    c.set(60_000);
    expect(l.currentRate).toBe(20);
  });

  it('recovers the same whether or not the rate is looked at during the cooldown', () => {
    const a = limiter({ ceiling: 20 });
    const b = limiter({ ceiling: 20 });
    a.l.onThrottle();
    b.l.onThrottle();
    for (let t = 100; t <= 5000; t += 100) {
      a.c.set(t);
      void a.l.currentRate; // observed every 100 ms, including inside the cooldown
    }
    b.c.set(5000); // never observed until now
    expect(b.l.currentRate).toBeCloseTo(a.l.currentRate, 9);
    expect(b.l.currentRate).toBeCloseTo(10 + 4 * 0.8, 9);
  });

  it('halves the recovered rate, not a stale one', () => {
    const { c, l } = limiter({ ceiling: 20 });
    l.onThrottle(); // 10
    c.set(6000); // 10 + 5 s × 0.8 = 14, not yet observed
    l.onThrottle();
    expect(l.currentRate).toBeCloseTo(7, 9);
  });

  it('paces at the recovered rate', () => {
    const { c, l } = limiter({ ceiling: 10, recoveryPerSecond: 0.1 }); // +1 rps per second
    l.onThrottle(); // 5 rps
    c.set(4000); // cooldown ends at 1000; +3 → 8 rps
    expect(l.reserve()).toBe(0);
    expect(l.reserve()).toBeCloseTo(125, 9);
  });
});

describe('RateController', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("defaults every category's ceiling to Cognito's default quota", () => {
    const rc = new RateController();
    expect(rc.ceilingOf('UserList')).toBe(QUOTA_CATEGORIES.UserList.rps);
    expect(rc.ceilingOf('UserCreation')).toBe(50);
    expect(rc.limiter('UserList').ceiling).toBe(30);
    expect(rc.limiter('UserList')).toBe(rc.limiter('UserList')); // one shared bucket
  });

  it('caps every category at --rate-share of its quota', () => {
    const rc = new RateController({ rateShare: 0.5 });
    expect(rc.ceilingOf('UserList')).toBe(15);
    expect(rc.ceilingOf('UserUpdate')).toBe(12.5);
    expect(rc.limiter('UserRead').ceiling).toBe(60);
  });

  it('lets --max-rps override one category, whatever the share', () => {
    const rc = new RateController({ rateShare: 0.5, maxRps: { UserList: 100 } });
    expect(rc.ceilingOf('UserList')).toBe(100);
    expect(rc.ceilingOf('UserCreation')).toBe(25);
    expect(rc.limiter('UserList').ceiling).toBe(100);
  });

  it('refuses a share outside (0, 1]', () => {
    expect(() => new RateController({ rateShare: 0 })).toThrow(RangeError);
    expect(() => new RateController({ rateShare: 1.5 })).toThrow(RangeError);
    expect(() => new RateController({ rateShare: Number.NaN })).toThrow(RangeError);
  });

  it('paces a per-pool operation at 5 RPS (× share) below its category quota', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const rc = new RateController({ rateShare: 0.5 });
    const t0 = performance.now();
    const times: number[] = [];
    const run = (async () => {
      for (let i = 0; i < 6; i++) {
        await rc.acquire('UserPoolResourceRead', 'ListGroups', 'us-east-1_A');
        times.push(performance.now() - t0);
      }
    })();
    await vi.advanceTimersByTimeAsync(5000);
    await run;
    // 5 RPS per pool operation × 0.5 = 2.5 RPS: 400 ms apart (the category allows 10 RPS).
    expect(times).toEqual([0, 400, 800, 1200, 1600, 2000]);

    // Another pool (or operation) has its own 5-RPS cap but shares the category bucket.
    const t1 = performance.now();
    const other: number[] = [];
    const two = Promise.all(
      ['us-east-1_B', 'us-east-1_C'].map(async (pool) => {
        await rc.acquire('UserPoolResourceRead', 'ListGroups', pool);
        other.push(performance.now() - t1);
      }),
    );
    await vi.advanceTimersByTimeAsync(1000);
    await two;
    expect(other.sort((a, b) => a - b)).toEqual([0, 100]); // category: 10 RPS
  });

  it('halves a category on throttles and reports calls, retries and throttles', () => {
    const rc = new RateController();
    rc.recordCall('UserList', false);
    rc.recordCall('UserList', true);
    rc.recordCall('UserCreation', false);
    rc.onThrottle('UserList', 'ListUsers', 'us-east-1_A');
    expect(rc.limiter('UserList').currentRate).toBe(15);
    const report = rc.report();
    expect(report.map((r) => r.category)).toEqual(['UserList', 'UserCreation']);
    expect(report[0]).toMatchObject({ calls: 2, retries: 1, throttles: 1, ceilingRps: 30 });
    expect(report[1]).toMatchObject({ calls: 1, retries: 0, throttles: 0, ceilingRps: 50 });
  });

  it('does not pace when unlimited, but still counts throttles', async () => {
    // On a frozen clock: 1,000 acquires (33 s of UserList quota) complete without any time
    // passing and without a timer set, where a paced limiter would wait.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const rc = new RateController({ unlimited: true });
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) await rc.acquire('UserList', 'ListUsers', 'us-east-1_A');
    expect(performance.now() - t0).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    rc.recordCall('UserList', false);
    rc.onThrottle('UserList', 'ListUsers', undefined);
    expect(rc.report()[0]).toMatchObject({ category: 'UserList', throttles: 1 });
  });
});
