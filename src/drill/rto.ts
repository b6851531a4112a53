import type { CategoryReport } from '../cognito/rate.js';
import type { QuotaCategory } from '../cognito/quotas.js';
import type { SnapshotCounts } from './sample.js';

/**
 * The RTO estimate: how long a full restore of this snapshot would take on this account, from
 * what the drill measured. A restore is a fixed part (pool, settings, resources: the drill
 * restores all of them, so their time is measured as it is) and a users part whose work grows
 * with the pool. The users part runs its quota categories in parallel (creates ‖ passwords ‖
 * memberships), so it lasts as long as its slowest category: calls needed in the full restore
 * ÷ the rate the drill achieved in that category on this account (the account's quota share,
 * its other traffic, throttling — all included), plus the pipeline's start-up and tail as the
 * drill saw them. The import-job path is rows ÷ the rows per second the drill's jobs achieved,
 * one job at a time (one active job per account), plus the listing for the new subs and the
 * follow-ups at their rates.
 */

export interface PhaseEstimate {
  phase: string;
  seconds: number;
  /** measured: the drill did this at full size; scaled: from the drill's rates. */
  basis: 'measured' | 'scaled' | 'quota';
  detail?: string;
}

export interface PathEstimate {
  path: 'admin-create' | 'import-job';
  /** Null when the drill did not exercise what the path needs (the reason in `note`). */
  totalSeconds: number | null;
  phases: PhaseEstimate[];
  /** The category (or import throughput) that bounds the users phase. */
  bottleneck?: string;
  note?: string;
}

export interface RateUsed {
  category: QuotaCategory | 'ImportRows';
  /** Requests (rows for ImportRows) per second. */
  rps: number;
  calls: number;
  throttles: number;
  /** measured in the drill, or the quota ceiling (not exercised by the drill). */
  source: 'measured' | 'ceiling';
}

export interface RtoEstimate {
  /** The snapshot's users (the estimate is for all of them). */
  users: number;
  sampledUsers: number;
  paths: PathEstimate[];
  rates: RateUsed[];
}

/** What the drill measured (seconds, counts). */
export interface DrillMeasurements {
  /** Wall time from restore start to its users phase (preflight, pool, settings, resources). */
  preflightSeconds: number;
  setupSeconds: number;
  /** From the first user written to the end of the restore. */
  usersSeconds: number;
  counts: SnapshotCounts;
  sampled: SnapshotCounts;
  memberships: { total: number; sampled: number };
  rates: CategoryReport[];
  /** Users by path in the drill. */
  created: number;
  imported: number;
  /** Sum of import job durations (s) and rows, when the drill ran import jobs. */
  importJobs?: { seconds: number; rows: number; jobs: number };
  /** The ceilings of the limiter for categories the drill did not exercise. */
  ceilings: Partial<Record<QuotaCategory, number>>;
}

/** Import jobs take at most this many rows per file (Cognito's limit). */
const IMPORT_ROWS_PER_JOB = 500_000;
/** ListUsers returns at most 60 users a page. */
const LIST_PAGE = 60;

const round = (s: number): number => Math.round(s * 10) / 10;

export function estimateRto(m: DrillMeasurements): RtoEstimate {
  const rates = new Map<string, RateUsed>();
  const rateOf = (c: QuotaCategory): RateUsed => {
    const have = rates.get(c);
    if (have) return have;
    const r = m.rates.find((x) => x.category === c);
    const used: RateUsed =
      r && r.calls >= 2 && r.achievedRps > 0
        ? {
            category: c,
            rps: r.achievedRps,
            calls: r.calls,
            throttles: r.throttles,
            source: 'measured',
          }
        : {
            category: c,
            rps: m.ceilings[c] ?? 1,
            calls: r?.calls ?? 0,
            throttles: r?.throttles ?? 0,
            source: 'ceiling',
          };
    rates.set(c, used);
    return used;
  };
  const full = m.counts;
  const nativeFull = full.users - full.externalProvider;
  const nativeSample = m.sampled.users - m.sampled.externalProvider;
  const userScale = nativeSample > 0 ? nativeFull / nativeSample : 1;
  // Per-user pipeline start-up and tail: the drill's users phase beyond its slowest category.
  const sampleCalls = (c: QuotaCategory): number =>
    m.rates.find((x) => x.category === c)?.calls ?? 0;
  const followUpsFull = m.memberships.total + full.disabled;
  // The restore's preflight reads (and checks) every user of the snapshot whatever the sample:
  // the drill's preflight is already a full-size one.
  const preflight = round(m.preflightSeconds);
  const setup = round(m.setupSeconds);
  const paths: PathEstimate[] = [];

  // AdminCreateUser path: every native user created (UserCreation), given a random password
  // (UserAccountRecovery, sign-in-ready users), memberships and disables (UserUpdate).
  {
    const need: [QuotaCategory, number, number][] = [
      ['UserCreation', nativeFull, m.created],
      [
        'UserAccountRecovery',
        sampleCalls('UserAccountRecovery') * (m.created > 0 ? nativeFull / m.created : userScale),
        sampleCalls('UserAccountRecovery'),
      ],
      ['UserUpdate', followUpsFull, sampleCalls('UserUpdate')],
    ];
    const times = need.map(([c, calls]) => ({ c, calls, s: calls / rateOf(c).rps }));
    const sampleModel = Math.max(0, ...need.map(([c, , calls]) => calls / rateOf(c).rps));
    const slowest = times.reduce((a, b) => (b.s > a.s ? b : a));
    const exercised = m.created > 0;
    const overhead = exercised ? Math.max(0, m.usersSeconds - sampleModel) : 0;
    const users = round(slowest.s + overhead);
    paths.push({
      path: 'admin-create',
      totalSeconds: round(preflight + setup + users),
      phases: [
        { phase: 'preflight', seconds: preflight, basis: 'measured' },
        { phase: 'pool and resources', seconds: setup, basis: 'measured' },
        {
          phase: 'users',
          seconds: users,
          basis: exercised && rateOf(slowest.c).source === 'measured' ? 'scaled' : 'quota',
          detail: `${Math.round(slowest.calls)} ${slowest.c} calls at ${rateOf(slowest.c).rps}/s`,
        },
      ],
      bottleneck: slowest.c,
      ...(exercised
        ? {}
        : {
            note: 'the drill created no user with AdminCreateUser: rates are the quota ceilings, not measured',
          }),
    });
  }

  // Import-job path: CSV jobs one at a time, then one listing of the pool for the new subs,
  // then memberships and disables (UserUpdate).
  {
    const jobs = m.importJobs;
    if (!jobs || jobs.rows === 0 || jobs.seconds <= 0) {
      paths.push({
        path: 'import-job',
        totalSeconds: null,
        phases: [],
        note: 'not measured: the drill ran no import job (run it with the import-job path and an import logs role)',
      });
    } else {
      const rowRate = jobs.rows / jobs.seconds;
      rates.set('ImportRows', {
        category: 'ImportRows',
        rps: round(rowRate),
        calls: jobs.rows,
        throttles: 0,
        source: 'measured',
      });
      const jobCount = Math.max(1, Math.ceil(nativeFull / IMPORT_ROWS_PER_JOB));
      const importS = round(nativeFull / rowRate);
      const listS = round(Math.ceil(full.users / LIST_PAGE) / rateOf('UserList').rps);
      const followS = round(followUpsFull / rateOf('UserUpdate').rps);
      paths.push({
        path: 'import-job',
        totalSeconds: round(preflight + setup + importS + listS + followS),
        phases: [
          { phase: 'preflight', seconds: preflight, basis: 'measured' },
          { phase: 'pool and resources', seconds: setup, basis: 'measured' },
          {
            phase: 'import jobs',
            seconds: importS,
            basis: 'scaled',
            detail: `${jobCount} job(s) at ${round(rowRate)} rows/s`,
          },
          {
            phase: 'listing for new subs',
            seconds: listS,
            basis: rateOf('UserList').source === 'measured' ? 'scaled' : 'quota',
          },
          {
            phase: 'memberships and disables',
            seconds: followS,
            basis: rateOf('UserUpdate').source === 'measured' ? 'scaled' : 'quota',
          },
        ],
        bottleneck: 'ImportRows',
      });
    }
  }
  return { users: full.users, sampledUsers: m.sampled.users, paths, rates: [...rates.values()] };
}
