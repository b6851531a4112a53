// Types for quota-proxy.mjs (plain JS so that the benchmark can run it without a build step).

export interface QuotaTable {
  readonly [category: string]: { readonly rps: number };
}

export interface OperationTable {
  readonly [operation: string]: string;
}

export interface QuotaProxyOptions {
  /** Where requests go: moto's endpoint, e.g. http://127.0.0.1:5000. */
  target: string;
  /** QUOTA_CATEGORIES of src/cognito/quotas.ts. */
  quotaCategories: QuotaTable;
  /** OPERATION_CATEGORY of src/cognito/quotas.ts. */
  operationCategory: OperationTable;
  /** Added round trip per Cognito request, ms (half before the quota check, half after). */
  delayMs?: number;
  /** Multiplies every category's default RPS (default 1). */
  scale?: number;
  /** Absolute RPS per category, replacing default × scale. */
  overrides?: Readonly<Record<string, number>>;
  /** Bucket capacity in seconds of tokens (default 1: a full second's worth may burst). */
  burstSeconds?: number;
  /** Probability that an admitted request answers HTTP 500 InternalErrorException. */
  failureRate?: number;
  /** Probability that an admitted request has its connection destroyed. */
  resetRate?: number;
  /**
   * When a reset happens: 'before' the request reaches moto (default), 'after' it took effect
   * (the answer is lost), or 'random' (either, half each).
   */
  resetPhase?: 'before' | 'after' | 'random';
  /** Seed of the RNG that draws failures and resets (default 1). */
  seed?: number;
  /** Listen port (default: a free one). */
  port?: number;
  /** Keep-alive sockets to moto (default 32). */
  upstreamSockets?: number;
  /**
   * The clock (ms) of the buckets, counters and competitors (default performance.now). With a
   * clock of its own the proxy starts no timer: competitors run on competeTick().
   */
  now?: () => number;
}

export interface CategoryStats {
  /** Requests that got a token (including those then failed with a 500 or a reset). */
  allowed: number;
  /** Requests answered with TooManyRequestsException. */
  throttled: number;
  injected500: number;
  resets: number;
  /** Competitor requests served. */
  competitorAllowed: number;
  /** Competitor requests that met an empty bucket at least once (then retried). */
  competitorThrottled: number;
  /** Competitor requests given up after waiting a second. */
  competitorDropped: number;
  /** The bucket's refill rate. */
  quotaRps: number;
  /** Seconds between the first and the last allowed request of this category. */
  activeSeconds: number;
  /** When the first and the last allowed request came, in ms on the proxy's clock. */
  firstAllowedAt: number | undefined;
  lastAllowedAt: number | undefined;
  /** (allowed − 1) / activeSeconds. */
  achievedRps: number;
  /** achievedRps / quotaRps (competitors excluded). */
  shareOfQuota: number;
}

export interface QuotaProxyStats {
  elapsedSeconds: number;
  /** Non-Cognito requests forwarded untouched (S3, moto-api). */
  passthrough: number;
  /** Per quota category; operations missing from the table count under "(unmapped)". */
  categories: Record<string, CategoryStats>;
}

export interface QuotaProxy {
  endpoint: string;
  port: number;
  /** The bucket rate of every category. */
  rates: Record<string, number>;
  stats(): QuotaProxyStats;
  resetStats(): void;
  /** Starts a competing client eating `rps` of `category`; returns the function that stops it. */
  compete(category: string, rps: number): () => void;
  /** Runs every competitor once at the clock's current time (needed with a `now` option). */
  competeTick(): void;
  /**
   * Copies every user of the pool from moto (unthrottled, not counted) and answers that pool's
   * ListUsers from the copy from then on: moto scans the whole pool on every ListUsers page, so
   * on large pools it, not the quota, would be the limit. Still behind the bucket, the delay and
   * the injected faults. Filters: `name = "v"` / `name ^= "v"` on username, status,
   * cognito:user_status or any attribute (others go to moto). Resolves with the user count.
   */
  freezeListUsers(userPoolId: string): Promise<number>;
  /** Sends the pool's ListUsers to moto again. */
  unfreezeListUsers(userPoolId: string): void;
  close(): Promise<void>;
}

export function startQuotaProxy(opts: QuotaProxyOptions): Promise<QuotaProxy>;

export function mulberry32(seed: number): () => number;

export class TokenBucket {
  constructor(rate: number, capacity: number, now?: () => number);
  readonly rate: number;
  readonly capacity: number;
  tokens: number;
  take(): boolean;
}
