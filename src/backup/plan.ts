import type { UserPoolType } from '@aws-sdk/client-cognito-identity-provider';
import { DescribeUserPoolCommand } from '@aws-sdk/client-cognito-identity-provider';
import { CognitoError, UsageError } from '../core/errors.js';
import { opt } from '../core/options.js';
import { TOOL_NAME, TOOL_VERSION } from '../core/version.js';
import type { CognitoGateway } from '../cognito/gateway.js';
import { AgeRecipients } from '../snapshot/age.js';
import { newSnapshotId } from '../snapshot/format.js';
import { acquireLease } from '../snapshot/lease.js';
import {
  MEMBERSHIPS_UNIT,
  PROGRESS_VERSION,
  type ProgressPlan,
  RESOURCES_UNIT,
  unitRecordPath,
  writePlan,
} from '../snapshot/progress.js';
import { SnapshotWriter } from '../snapshot/writer.js';
import { openForResume, type ResumeState } from './resume.js';
import type { BackupPlan, BackupRun } from './run-state.js';
import type { BackupOptions } from './types.js';

/**
 * The plan step: a new snapshot (id, options, its lease, progress/plan.json), or with
 * `opts.resume` the incomplete snapshot to finish — checked resumable and ours alone
 * (src/backup/resume.ts), its options compared with the ones given, its finished units and
 * stored segments taken over. `onSnapshot` is told the id as soon as it is known, so that a run
 * stopped from here on names the snapshot to resume.
 */
export async function openPlan(
  run: BackupRun,
  pool: UserPoolType,
  onSnapshot: (snapshotId: string) => void,
): Promise<BackupPlan> {
  const { opts, root, poolId } = run;
  let resumed: ResumeState | undefined;
  let plan: ProgressPlan;
  if (opts.resume !== undefined) {
    // Named from here on if interrupted: a refused or stopped resume leaves it resumable.
    onSnapshot(opts.resume);
    // Leases are judged by the real clock (`now` only names and dates the snapshot).
    resumed = await openForResume(root, poolId, opts.resume);
    plan = resumed.plan;
    try {
      await takeOver(run, resumed);
    } catch (e) {
      await resumed.lease.release();
      throw e;
    }
  } else {
    plan = newPlan(opts, pool, run.startedAt);
    onSnapshot(plan.snapshotId);
  }
  const snapshotId = plan.snapshotId;
  const snap = root.child(`${poolId}/${snapshotId}`);
  const recipients = plan.options.encryptTo?.length
    ? new AgeRecipients(plan.options.encryptTo)
    : undefined;
  // Segments are not tied to the run's signal: a segment whose source ends (the chain fails, or
  // is drained at a stop: src/backup/users.ts) fails or completes with it.
  const segmentWriter = (): SnapshotWriter => new SnapshotWriter(snap, undefined, recipients);
  // A lease on the snapshot being written, refreshed while the backup runs: prune leaves a
  // snapshot with a live lease alone, however long the backup takes.
  const lease = resumed?.lease ?? (await acquireLease(snap, 'backup'));
  try {
    await writePlan(snap, plan);
  } catch (e) {
    await lease.release();
    throw e;
  }
  run.progress({ type: 'phase', phase: 'snapshot', detail: snapshotId });
  return {
    pool,
    snapshotId,
    plan,
    kept: resumed?.kept ?? new Map(),
    chains: resumed?.chains ?? new Map(),
    segments: resumed?.segments ?? [],
    lease,
    writer: segmentWriter(),
    snap,
    segmentWriter,
    runIndex: plan.resumes.length,
    partSuffix: plan.resumes.length > 0 ? `-r${plan.resumes.length}` : '',
  };
}

/** The plan of a new snapshot: its id and the options it keeps across resumes. */
function newPlan(opts: BackupOptions, pool: UserPoolType, startedAt: Date): ProgressPlan {
  const estimated = pool.EstimatedNumberOfUsers;
  return {
    progressVersion: PROGRESS_VERSION,
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    snapshotId: newSnapshotId(startedAt),
    userPoolId: opts.userPoolId,
    startedAt: startedAt.toISOString(),
    options: {
      includeSecrets: Boolean(opts.includeSecrets),
      ...(opts.userMfa ? { userMfa: true } : {}),
      ...(opts.encryptTo?.length ? { encryptTo: [...opts.encryptTo] } : {}),
      requestedShards: opts.shards ?? (estimated !== undefined && estimated > 2_000_000 ? 256 : 16),
    },
    warnings: [],
    resumes: [],
  };
}

/**
 * A resume keeps the options the snapshot started with (giving others is a UsageError) and
 * appends itself to the plan's resumes. Encrypted: groups.json cannot be read back without a
 * key, so memberships still to be listed take their groups from resources captured again (the
 * resources' record goes first).
 */
async function takeOver(run: BackupRun, state: ResumeState): Promise<void> {
  const { opts } = run;
  const { plan, kept } = state;
  const o = plan.options;
  const differs = [
    opts.includeSecrets !== undefined && opts.includeSecrets !== o.includeSecrets
      ? opt('includeSecrets')
      : '',
    opts.userMfa !== undefined && opts.userMfa !== Boolean(o.userMfa) ? opt('userMfa') : '',
    opts.shards !== undefined && opts.shards !== o.requestedShards ? opt('shards') : '',
    opts.encryptTo !== undefined &&
    [...opts.encryptTo].sort().join() !== [...(o.encryptTo ?? [])].sort().join()
      ? opt('encryptTo')
      : '',
  ].filter(Boolean);
  if (differs.length > 0) {
    throw new UsageError(
      'RESUME_OPTIONS_DIFFER',
      `snapshot ${plan.snapshotId} was started with other options (${differs.join(', ')}); a resume keeps the options it started with — leave them out or give the same ones`,
      { snapshotId: plan.snapshotId },
    );
  }
  if (o.encryptTo?.length && kept.has(RESOURCES_UNIT) && !kept.has(MEMBERSHIPS_UNIT)) {
    kept.delete(RESOURCES_UNIT);
    state.redone++;
    await run.root.child(`${run.poolId}/${plan.snapshotId}`).delete(unitRecordPath(RESOURCES_UNIT));
  }
  plan.resumes.push({
    at: run.startedAt.toISOString(),
    unitsKept: kept.size,
    unitsRedone: state.redone,
  });
}

/** DescribeUserPool; UsageError POOL_NOT_FOUND when there is no such pool in the Region. */
export async function describePool(
  gw: CognitoGateway,
  poolId: string,
  region: string,
): Promise<UserPoolType> {
  try {
    const { UserPool: pool } = await gw.send(new DescribeUserPoolCommand({ UserPoolId: poolId }));
    if (!pool)
      throw new UsageError('POOL_NOT_FOUND', `user pool ${poolId} does not exist in ${region}`, {
        userPoolId: poolId,
        region,
      });
    return pool;
  } catch (e) {
    if (e instanceof CognitoError && e.awsCode === 'ResourceNotFoundException') {
      throw new UsageError(
        'POOL_NOT_FOUND',
        `user pool ${poolId} does not exist in ${region}`,
        { userPoolId: poolId, region },
        { cause: e },
      );
    }
    throw e;
  }
}
