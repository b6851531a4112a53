// A reverse proxy (node:http, loopback only) in front of moto that behaves like Cognito's
// request-rate quotas: one token bucket per quota category, Cognito's TooManyRequestsException
// when a bucket is empty, an added round trip, injected 500s and connection resets, per-category
// counters, and competing clients that eat part of a category's quota.
//
// The one implementation: test/support/quota-proxy.ts re-exports it with the category tables
// from src/, bench/run.mjs with the tables from dist/. Types: quota-proxy.d.mts.

import http from 'node:http';
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval, setTimeout } from 'node:timers';

const TARGET_PREFIX = 'AWSCognitoIdentityProviderService.';
const UNMAPPED = '(unmapped)';

/** Small, fast, seedable PRNG (mulberry32): the same seed gives the same failure sequence. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A token bucket refilled continuously at `rate` tokens/s, holding at most `capacity` tokens.
 * Starts full (a caller that was idle may burst up to `capacity`), like Cognito's buckets.
 */
export class TokenBucket {
  constructor(rate, capacity, now = () => performance.now()) {
    if (!(rate > 0)) throw new RangeError('bucket rate must be > 0');
    this.rate = rate;
    this.capacity = Math.max(1, capacity);
    this.now = now;
    this.tokens = this.capacity;
    this.last = now();
  }

  refill() {
    const t = this.now();
    const dt = (t - this.last) / 1000;
    this.last = t;
    if (dt > 0) this.tokens = Math.min(this.capacity, this.tokens + dt * this.rate);
  }

  /** Takes one token if there is one. */
  take() {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}

function newCounters() {
  return {
    allowed: 0,
    throttled: 0,
    injected500: 0,
    resets: 0,
    competitorAllowed: 0,
    competitorThrottled: 0,
    competitorDropped: 0,
    firstAllowedAt: undefined,
    lastAllowedAt: undefined,
  };
}

function sendJson(res, status, body, extraHeaders = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...extraHeaders,
  });
  res.end(text);
}

let requestSeq = 0;

/** Cognito's error shape: JSON 1.1 body with __type, plus the x-amzn-ErrorType header. */
function sendAwsError(res, status, type, message) {
  const text = JSON.stringify({ __type: type, message });
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.1',
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-ErrorType': type,
    'x-amzn-RequestId': `quota-proxy-${++requestSeq}`,
  });
  res.end(text);
}

const sleep = (ms) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

/**
 * Starts the proxy on 127.0.0.1 (a free port unless `port` is given).
 * See quota-proxy.d.mts for the options; `quotaCategories` and `operationCategory` are the
 * tables of src/cognito/quotas.ts.
 */
export async function startQuotaProxy(opts) {
  const target = new URL(opts.target);
  if (!opts.quotaCategories || !opts.operationCategory) {
    throw new TypeError('startQuotaProxy needs quotaCategories and operationCategory');
  }
  const scale = opts.scale ?? 1;
  const burstSeconds = opts.burstSeconds ?? 1;
  const delayMs = opts.delayMs ?? 0;
  const failureRate = opts.failureRate ?? 0;
  const resetRate = opts.resetRate ?? 0;
  const resetPhase = opts.resetPhase ?? 'before';
  const random = mulberry32(opts.seed ?? 1);
  // The clock of every bucket, counter and competitor (a test may pass a virtual one).
  const now = opts.now ?? (() => performance.now());

  const rates = {};
  for (const [cat, q] of Object.entries(opts.quotaCategories)) {
    rates[cat] = opts.overrides?.[cat] ?? q.rps * scale;
  }
  const buckets = new Map();
  const bucketOf = (cat) => {
    let b = buckets.get(cat);
    if (!b) {
      b = new TokenBucket(rates[cat], rates[cat] * burstSeconds, now);
      buckets.set(cat, b);
    }
    return b;
  };

  let counters = new Map();
  let passthrough = 0;
  let startedAt = now();
  const countersOf = (cat) => {
    let c = counters.get(cat);
    if (!c) {
      c = newCounters();
      counters.set(cat, c);
    }
    return c;
  };

  const upstream = new http.Agent({ keepAlive: true, maxSockets: opts.upstreamSockets ?? 32 });
  const sockets = new Set();

  /** Forwards the request to moto and streams the answer back. */
  const forward = (req, res, body, afterResponse) =>
    new Promise((resolve) => {
      const headers = { ...req.headers, host: target.host };
      delete headers.connection;
      const up = http.request(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers,
          agent: upstream,
        },
        (upRes) => {
          const chunks = [];
          upRes.on('data', (c) => chunks.push(c));
          upRes.on('end', async () => {
            await afterResponse?.();
            if (res.destroyed) return resolve();
            const out = Buffer.concat(chunks);
            const h = { ...upRes.headers };
            delete h['transfer-encoding'];
            delete h.connection;
            h['content-length'] = String(out.length);
            res.writeHead(upRes.statusCode ?? 502, h);
            res.end(out);
            resolve();
          });
          upRes.on('error', () => {
            res.destroy();
            resolve();
          });
        },
      );
      up.on('error', (e) => {
        if (!res.headersSent && !res.destroyed) {
          sendJson(res, 502, { message: `quota proxy: upstream error ${e.message}` });
        }
        resolve();
      });
      up.end(body);
    });

  const readBody = (req) =>
    new Promise((resolve, reject) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });

  // ---- frozen ListUsers copies ------------------------------------------------------------
  // moto answers ListUsers by scanning every user of the pool on every page (and every filter),
  // so on large pools the emulator, not the quota, limits a backup. A frozen pool's ListUsers
  // is answered from an in-memory copy instead (same users as moto returned them, `sub ^=`
  // and other simple filters, opaque offset tokens), still behind the bucket, delay and faults.
  const frozen = new Map(); // userPoolId → { users, byFilter: Map<filter, users[]> }

  const upstreamJson = (op, payload) =>
    new Promise((resolve, reject) => {
      const text = JSON.stringify(payload);
      // moto keeps each Region apart by the Region the request is signed for: a pool id names it.
      const region =
        /^([a-z]{2}(?:-[a-z]+)+-\d+)_/.exec(payload.UserPoolId ?? '')?.[1] ?? 'us-east-1';
      const up = http.request(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: 'POST',
          path: '/',
          agent: upstream,
          headers: {
            'Content-Type': 'application/x-amz-json-1.1',
            'Content-Length': Buffer.byteLength(text),
            'X-Amz-Target': `${TARGET_PREFIX}${op}`,
            Authorization: `AWS4-HMAC-SHA256 Credential=testing/20240101/${region}/cognito-idp/aws4_request, SignedHeaders=host, Signature=0`,
          },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const out = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 500) >= 300) {
              reject(new Error(`${op} answered ${res.statusCode}: ${out.slice(0, 200)}`));
            } else resolve(JSON.parse(out));
          });
          res.on('error', reject);
        },
      );
      up.on('error', reject);
      up.end(text);
    });

  const FILTER = /^\s*([\w:]+)\s*(=|\^=)\s*"(.*)"\s*$/;
  const filterValue = (u, name) => {
    if (name === 'username') return u.Username;
    if (name === 'status') return u.Enabled === false ? 'Disabled' : 'Enabled';
    if (name === 'cognito:user_status') return u.UserStatus;
    return u.Attributes?.find((a) => a.Name === name)?.Value;
  };
  /** The frozen users matching `filter`, or undefined when the filter is not understood. */
  const frozenUsers = (copy, filter) => {
    const key = filter ?? '';
    let list = copy.byFilter.get(key);
    if (list) return list;
    if (!key) list = copy.users;
    else {
      const m = FILTER.exec(key);
      if (!m) return undefined;
      const [, name, op, value] = m;
      list = copy.users.filter((u) => {
        const v = filterValue(u, name);
        return typeof v === 'string' && (op === '=' ? v === value : v.startsWith(value));
      });
    }
    copy.byFilter.set(key, list);
    return list;
  };

  /** Answers a ListUsers from a frozen copy; false when it must go to moto. */
  const serveFrozen = async (res, body) => {
    let input;
    try {
      input = JSON.parse(body.toString('utf8'));
    } catch {
      return false;
    }
    const copy = frozen.get(input?.UserPoolId);
    if (!copy || input.AttributesToGet) return false;
    const list = frozenUsers(copy, input.Filter);
    if (!list) return false;
    let offset = 0;
    if (input.PaginationToken) {
      const m = /^frozen:(\d+)$/.exec(
        Buffer.from(String(input.PaginationToken), 'base64').toString('utf8'),
      );
      if (!m) {
        await sleep(delayMs / 2);
        sendAwsError(res, 400, 'InvalidParameterException', 'Invalid pagination token');
        return true;
      }
      offset = Number(m[1]);
    }
    const limit = Math.min(60, Math.max(1, input.Limit ?? 60));
    const page = list.slice(offset, offset + limit);
    const out = { Users: page };
    if (offset + limit < list.length) {
      out.PaginationToken = Buffer.from(`frozen:${offset + limit}`).toString('base64');
    }
    await sleep(delayMs / 2);
    const text = JSON.stringify(out);
    res.writeHead(200, {
      'Content-Type': 'application/x-amz-json-1.1',
      'Content-Length': Buffer.byteLength(text),
      'x-amzn-RequestId': `quota-proxy-${++requestSeq}`,
    });
    res.end(text);
    return true;
  };

  const statsSnapshot = () => {
    const categories = {};
    for (const [cat, c] of counters) {
      const span =
        c.firstAllowedAt !== undefined && c.lastAllowedAt !== undefined
          ? (c.lastAllowedAt - c.firstAllowedAt) / 1000
          : 0;
      const quotaRps = rates[cat];
      const achievedRps = c.allowed > 1 && span > 0 ? (c.allowed - 1) / span : 0;
      categories[cat] = {
        allowed: c.allowed,
        throttled: c.throttled,
        injected500: c.injected500,
        resets: c.resets,
        competitorAllowed: c.competitorAllowed,
        competitorThrottled: c.competitorThrottled,
        competitorDropped: c.competitorDropped,
        quotaRps,
        activeSeconds: Math.round(span * 1000) / 1000,
        firstAllowedAt: c.firstAllowedAt,
        lastAllowedAt: c.lastAllowedAt,
        achievedRps: Math.round(achievedRps * 100) / 100,
        shareOfQuota: quotaRps ? Math.round((achievedRps / quotaRps) * 1000) / 1000 : 0,
      };
    }
    return {
      elapsedSeconds: Math.round(now() - startedAt) / 1000,
      passthrough,
      categories,
    };
  };

  const server = http.createServer(async (req, res) => {
    try {
      if (req.url === '/__proxy/stats' && req.method === 'GET') {
        req.resume();
        return sendJson(res, 200, statsSnapshot());
      }
      const amzTarget = req.headers['x-amz-target'];
      const isCognito =
        req.method === 'POST' &&
        typeof amzTarget === 'string' &&
        amzTarget.startsWith(TARGET_PREFIX);
      const body = await readBody(req);
      if (!isCognito) {
        passthrough++;
        return await forward(req, res, body);
      }
      const op = amzTarget.slice(TARGET_PREFIX.length);
      const cat = Object.hasOwn(opts.operationCategory, op) ? opts.operationCategory[op] : UNMAPPED;
      const c = countersOf(cat);
      // Half the added round trip on the way in: the request reaches "Cognito" then.
      await sleep(delayMs / 2);
      if (cat !== UNMAPPED && !bucketOf(cat).take()) {
        c.throttled++;
        await sleep(delayMs / 2);
        return sendAwsError(res, 400, 'TooManyRequestsException', 'Too many requests');
      }
      const t = now();
      c.allowed++;
      c.firstAllowedAt ??= t;
      c.lastAllowedAt = t;
      if (failureRate > 0 && random() < failureRate) {
        c.injected500++;
        await sleep(delayMs / 2);
        return sendAwsError(res, 500, 'InternalErrorException', 'Internal server error');
      }
      if (resetRate > 0 && random() < resetRate) {
        c.resets++;
        const after = resetPhase === 'after' || (resetPhase === 'random' && random() < 0.5);
        if (!after) {
          req.socket.destroy();
          return;
        }
        // The request took effect upstream; only the answer is lost.
        return await forward(req, res, body, async () => {
          req.socket.destroy();
        });
      }
      if (op === 'ListUsers' && frozen.size > 0 && (await serveFrozen(res, body))) return;
      await forward(req, res, body, () => sleep(delayMs / 2));
    } catch (e) {
      if (!res.headersSent && !res.destroyed) {
        sendJson(res, 502, { message: `quota proxy: ${e?.message ?? e}` });
      }
    }
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const endpoint = `http://127.0.0.1:${addr.port}`;

  const competitors = new Set();
  const tickers = new Set();

  return {
    endpoint,
    port: addr.port,
    rates: { ...rates },
    stats: statsSnapshot,
    /**
     * Copies every user of the pool from moto (unthrottled, not counted) and answers that pool's
     * ListUsers from the copy from now on. Resolves with the number of users copied.
     */
    async freezeListUsers(userPoolId) {
      const users = [];
      let token;
      do {
        const page = await upstreamJson('ListUsers', {
          UserPoolId: userPoolId,
          Limit: 60,
          ...(token ? { PaginationToken: token } : {}),
        });
        for (const u of page.Users ?? []) users.push(u);
        token = page.PaginationToken;
      } while (token);
      frozen.set(userPoolId, { users, byFilter: new Map() });
      return users.length;
    },
    /** Sends the pool's ListUsers to moto again. */
    unfreezeListUsers(userPoolId) {
      frozen.delete(userPoolId);
    },
    resetStats() {
      counters = new Map();
      passthrough = 0;
      startedAt = now();
    },
    /**
     * A competing client (a production app) that needs `rps` requests per second of `category`
     * from the same bucket. Its requests arrive evenly spaced; one that finds the bucket empty
     * is counted as throttled once and retried every 5 ms (a persistent app with retries) until
     * it gets a token, or dropped after waiting a second. Returns the function that stops it.
     */
    compete(category, rps) {
      if (!Object.hasOwn(rates, category)) throw new RangeError(`unknown category ${category}`);
      if (!(rps > 0)) throw new RangeError('competitor rps must be > 0');
      const t0 = now();
      let arrived = 0;
      const backlog = []; // requests still waiting for a token: { at, counted }
      const tick = () => {
        const c = countersOf(category);
        const t = now();
        const due = Math.floor(((t - t0) / 1000) * rps);
        for (; arrived < due; arrived++) backlog.push({ at: t, counted: false });
        while (backlog.length > 0 && t - backlog[0].at > 1000) {
          backlog.shift();
          c.competitorDropped++;
        }
        while (backlog.length > 0) {
          if (!bucketOf(category).take()) {
            // Each request counts as throttled once, when it first meets an empty bucket.
            for (const r of backlog) {
              if (!r.counted) {
                r.counted = true;
                c.competitorThrottled++;
              }
            }
            break;
          }
          backlog.shift();
          c.competitorAllowed++;
        }
      };
      // With a virtual clock (`now`), the test drives the competitor through competeTick().
      const timer = opts.now ? undefined : setInterval(tick, 5);
      timer?.unref?.();
      const stop = () => {
        if (timer) clearInterval(timer);
        competitors.delete(stop);
        tickers.delete(tick);
      };
      competitors.add(stop);
      tickers.add(tick);
      return stop;
    },
    /** Runs every competitor once at the current time of the clock (for a virtual `now`). */
    competeTick() {
      for (const tick of [...tickers]) tick();
    },
    async close() {
      for (const stop of [...competitors]) stop();
      await new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      upstream.destroy();
    },
  };
}
