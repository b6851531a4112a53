import { TargetIncompatibleError } from '../../core/errors.js';
import { opt } from '../../core/options.js';
import type { UsersPath, UsersPathPlan } from '../users/import/phase.js';
import type { RestoreWarning } from '../types.js';

/**
 * The "no surprise bill" gate. Every user written with an admin operation (AdminCreateUser and
 * the updates after it) counts as a monthly active user (MAU) of the target pool that month;
 * users landed by a CSV import job do not. Above a threshold, a restore that would write users
 * with admin operations only because no import-logs role was given stops in preflight (exit 4,
 * nothing written) unless the operator chose it: `importLogsRoleArn`, an explicit `usersPath`
 * `admin-create`, or `acceptMauCost`.
 */
export const DEFAULT_MAU_COST_THRESHOLD = 10_000;

/**
 * List prices per MAU (USD, per month) by feature plan, as AWS publishes them on
 * https://aws.amazon.com/cognito/pricing/ (read through a transcription of that page dated
 * 2026-09-20; the page's own tables did not render): Lite $0.0055 for the first band above the
 * free 10,000 MAU and $0.0046 in the next (the band limits were not confirmed, so the first
 * band's price is used throughout: an upper estimate); Essentials $0.015 above the free
 * 10,000; Plus $0.020 with no free tier. The free tier is per account, shared with every other
 * pool's users, and prices differ by Region: the figures are an estimate, never a quote.
 */
export const MAU_LIST_PRICES = [
  { plan: 'Lite', perMau: 0.0055, freeMau: 10_000 },
  { plan: 'Essentials', perMau: 0.015, freeMau: 10_000 },
  { plan: 'Plus', perMau: 0.02, freeMau: 0 },
] as const;

export interface MauEstimate {
  /** Users that would be written with admin operations (each one MAU this month). */
  billedUsers: number;
  /** Estimated list-price cost per feature plan, USD, this month. */
  perPlan: { plan: string; usd: number }[];
}

/** Users the run writes with AdminCreateUser, by the users path the preflight planned. */
export function adminWrittenUsers(
  plan: UsersPathPlan,
  native: number,
  alreadyDone: number,
): number {
  if (plan.effective === 'admin-create') return Math.max(0, native - alreadyDone);
  if (plan.effective === 'mixed') return plan.ineligible;
  return 0;
}

export function estimateMauCost(billedUsers: number): MauEstimate {
  return {
    billedUsers,
    perPlan: MAU_LIST_PRICES.map((p) => ({
      plan: p.plan,
      usd: Math.round(Math.max(0, billedUsers - p.freeMau) * p.perMau * 100) / 100,
    })),
  };
}

/** One line: "about $X (Lite), $Y (Essentials), $Z (Plus) at list prices — an estimate". */
export function describeEstimate(e: MauEstimate): string {
  const money = (n: number): string =>
    `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  return `${e.billedUsers} user(s) would be written with admin operations, each a monthly active user (MAU); estimate at list prices, before the account's shared free tier and Regional prices: ${e.perPlan
    .map((p) => `${money(p.usd)} (${p.plan})`)
    .join(', ')} — see https://aws.amazon.com/cognito/pricing/`;
}

/**
 * Applies the gate. Returns the estimate (for the plan and dry-run); in a dry run a gate that
 * would stop the real run is a warning; otherwise it throws TargetIncompatibleError (exit 4).
 */
export function mauCostGate(o: {
  plan: UsersPathPlan;
  requested: UsersPath;
  roleArn: string | undefined;
  accept: boolean;
  threshold: number | undefined;
  native: number;
  alreadyDone: number;
  dryRun: boolean;
  warn: (w: RestoreWarning) => void;
}): MauEstimate {
  const est = estimateMauCost(adminWrittenUsers(o.plan, o.native, o.alreadyDone));
  if (est.billedUsers === 0) return est;
  const threshold = o.threshold ?? DEFAULT_MAU_COST_THRESHOLD;
  const chosen = o.accept || o.roleArn !== undefined || o.requested === 'admin-create';
  if (o.dryRun) o.warn({ code: 'MAU_ESTIMATE', message: describeEstimate(est) });
  if (est.billedUsers <= threshold || chosen) return est;
  const message = `${est.billedUsers} user(s) would be written with AdminCreateUser, each billed as a monthly active user (more than ${threshold}); pass ${opt('importLogsRoleArn')} to use CSV import jobs (no MAU), or ${opt('usersPath')} admin-create or ${opt('acceptMauCost')} to accept the cost (${opt('dryRun')} shows an estimate)`;
  if (o.dryRun) {
    o.warn({ code: 'MAU_COST_GATE', message: `the restore would stop here: ${message}` });
    return est;
  }
  throw new TargetIncompatibleError(message, [message], {
    billedUsers: est.billedUsers,
    threshold,
  });
}
