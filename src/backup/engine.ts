import { setMaxListeners } from 'node:events';
import { paginateListUserPools } from '@aws-sdk/client-cognito-identity-provider';
import { InterruptedError } from '../core/errors.js';
import { noProgress } from '../core/progress.js';
import { type CognitoGateway, items, resolveRegion } from '../cognito/gateway.js';
import type { Warning } from '../snapshot/format.js';
import type { Storage } from '../storage/storage.js';
import { commitSnapshot } from './commit.js';
import { describePool, openPlan } from './plan.js';
import { stoppedError } from './errors.js';
import { captureSettings } from './settings.js';
import type { BackupPlan, BackupRun, Tally } from './run-state.js';
import { allOrAbort } from './tasks.js';
import type { BackupOptions, BackupResult } from './types.js';
import { UserMfaReader } from './user-mfa.js';
import { captureUsers, startEarly } from './users.js';

export { NoProgressError } from './errors.js';
export { describePool } from './plan.js';
export { downloadUiImage, UI_IMAGE_MAX_BYTES } from './resources.js';
export { redactProviderDetails } from '../snapshot/redaction.js';
export { CHECKPOINT_EVERY_MS, MAX_CHAIN_RESTARTS, MAX_OPEN_SHARDS } from './users.js';
export {
  type BackupOptions,
  type BackupResult,
  type BackupSummary,
  backupSummary,
  type UserMfaSummary,
} from './types.js';

/**
 * Captures a whole user pool into a new snapshot under `root/<userPoolId>/<snapshotId>/`, or
 * finishes an incomplete one (`opts.resume`). The steps, each in its own module over one
 * BackupRun (run-state.ts):
 *
 *   1. pool       DescribeUserPool (plan.ts: describePool), a new snapshot's first ListUsers
 *                 pages asked for beside it (users.ts: startEarly)
 *   2. plan       a new snapshot's id, options and lease, or the resume checks and what earlier
 *                 runs left: finished units, stored segments (plan.ts, resume.ts)
 *   3. users      sharding, the ListUsers chains segment by segment, each segment's page record,
 *                 chain restarts (users.ts; user-mfa.ts with `userMfa`)
 *      ‖ settings (settings.ts): resources, the pool's documents with secrets redacted
 *        (resources.ts, snapshot/redaction.ts), then memberships, every group's members
 *        (memberships.ts)
 *   4. commit     the manifest last, then the progress records removed (commit.ts)
 *
 * Users run beside resources and memberships: those use other quota categories (memberships
 * share UserList, and the shards yield to them). Each finished unit — a users shard, the
 * resources, the memberships — is recorded under progress/ once its files are durable, and a
 * shard's segments are recorded as they are stored (records.ts). Stopped by `signal`, it throws
 * InterruptedError with `{ snapshotId, progressMade }` in its context and leaves the records for
 * a later resume (NoProgressError instead, with `failWithoutProgress`, when it made none).
 */
export async function backupPool(
  gateway: CognitoGateway,
  root: Storage,
  opts: BackupOptions,
): Promise<BackupResult> {
  // One controller for the whole run: a failure in any step stops the others.
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onOuterAbort = (): void => controller.abort(new InterruptedError());
  if (opts.signal?.aborted) throw new InterruptedError();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  // This run's view of the gateway: every call carries this run's signal.
  const run = newRun(gateway.withSignal(controller.signal), root, opts, controller);
  const tally: Tally = {
    users: 0,
    memberships: 0,
    clients: 0,
    identityProviders: 0,
    resourceServers: 0,
    groups: 0,
    durableRecords: 0,
    shardsContinued: 0,
  };
  let snapshotId: string | undefined;
  let planned: BackupPlan | undefined;
  try {
    run.progress({ type: 'phase', phase: 'pool' });
    // A new snapshot's listing starts at once, beside DescribeUserPool and the plan.
    const early = opts.resume === undefined ? startEarly(run, opts.shards ?? 16) : undefined;
    const pool = await describePool(run.gw, run.poolId, run.region);
    planned = await openPlan(run, pool, (id) => (snapshotId = id));
    const p = planned;
    const mfa = p.plan.options.userMfa
      ? new UserMfaReader(run.gw, run.poolId, run.signal)
      : undefined;
    await allOrAbort(
      [() => captureUsers(run, p, tally, mfa, early), () => captureSettings(run, p, tally)],
      run,
    );
    return await commitSnapshot(run, p, tally, mfa);
  } catch (e) {
    if (opts.signal?.aborted) throw stoppedError(opts, snapshotId, tally);
    throw e;
  } finally {
    await planned?.lease.release();
    opts.signal?.removeEventListener('abort', onOuterAbort);
    // Ends what no step waits for any more (first pages asked for early, when the run failed).
    if (!controller.signal.aborted) controller.abort(new InterruptedError());
  }
}

function newRun(
  gw: CognitoGateway,
  root: Storage,
  opts: BackupOptions,
  controller: AbortController,
): BackupRun {
  const progress = opts.onProgress ?? noProgress;
  const warnings: Warning[] = [];
  return {
    gw,
    root,
    opts,
    poolId: opts.userPoolId,
    region: resolveRegion(opts.userPoolId, opts.region),
    startedAt: (opts.now ?? (() => new Date()))(),
    progress,
    signal: controller.signal,
    stopping: () => opts.signal?.aborted === true,
    abort: (reason) => controller.abort(reason),
    warnings,
    warn: (w) => {
      warnings.push(w);
      progress({ type: 'warning', code: w.code, message: w.message });
    },
    t0: performance.now(),
  };
}

/**
 * Backs up every pool in the region, one after another (ListUserPools, every page); the first
 * failure stops it. `backupRegions` (./regions.ts) is the one the CLI and the Lambda use: any
 * number of Regions in parallel, every pool attempted and reported.
 */
export async function backupAllPools(
  gw: CognitoGateway,
  root: Storage,
  opts: Omit<BackupOptions, 'userPoolId'>,
): Promise<BackupResult[]> {
  const ids: string[] = [];
  for await (const p of items(gw.pages(paginateListUserPools, { MaxResults: 60 }), 'UserPools'))
    if (p.Id) ids.push(p.Id);
  const results: BackupResult[] = [];
  for (const id of ids) results.push(await backupPool(gw, root, { ...opts, userPoolId: id }));
  return results;
}
