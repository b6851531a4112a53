import { TOOL_NAME, TOOL_VERSION } from '../core/version.js';
import type { Counts } from '../snapshot/format.js';
import { removeProgress } from './records.js';
import type { BackupPlan, BackupRun, Tally } from './run-state.js';
import type { BackupResult } from './types.js';
import type { UserMfaReader } from './user-mfa.js';

/**
 * The commit step: the manifest, written last by the writer after it checked every file is
 * stored as written (the snapshot is complete from here), then the progress records removed
 * (best effort) and the result.
 */
export async function commitSnapshot(
  run: BackupRun,
  planned: BackupPlan,
  tally: Tally,
  mfa: UserMfaReader | undefined,
): Promise<BackupResult> {
  const { pool, plan, snapshotId } = planned;
  const estimated = pool.EstimatedNumberOfUsers;
  const sharding = plan.options.sharding ?? { mode: 'single' as const, shards: 1 as const };
  const counts: Counts = {
    users: tally.users,
    groups: tally.groups,
    memberships: tally.memberships,
    clients: tally.clients,
    identityProviders: tally.identityProviders,
    resourceServers: tally.resourceServers,
  };
  run.progress({ type: 'phase', phase: 'manifest' });
  const manifest = await planned.writer.commit({
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    snapshotId,
    userPool: {
      id: run.poolId,
      name: pool.Name ?? '',
      region: run.region,
      ...(pool.Arn ? { arn: pool.Arn } : {}),
      ...(estimated !== undefined ? { estimatedNumberOfUsers: estimated } : {}),
    },
    startedAt: plan.startedAt,
    finishedAt: finishedAt(run, plan.startedAt),
    counts,
    options: {
      includeSecrets: plan.options.includeSecrets,
      ...(mfa ? { userMfa: true } : {}),
      sharding,
    },
    warnings: run.warnings,
    ...(plan.resumes.length > 0 ? { resumes: plan.resumes } : {}),
  });
  // Complete: the records have done their job (a leftover is ignored by every reader).
  await removeProgress(planned.snap);
  return {
    snapshot: planned.writer.location,
    snapshotId,
    userPoolId: run.poolId,
    userPoolName: pool.Name ?? '',
    ...counts,
    durationMs: Math.round(performance.now() - run.t0),
    ...(mfa ? { userMfa: mfa.summary() } : {}),
    ...(manifest.encryption ? { encryptedTo: manifest.encryption.recipients } : {}),
    ...(plan.resumes.length > 0
      ? {
          resumed: {
            count: plan.resumes.length,
            unitsKept: planned.kept.size,
            ...(tally.shardsContinued > 0 ? { shardsContinued: tally.shardsContinued } : {}),
          },
        }
      : {}),
    warnings: run.warnings,
    rates: run.gw.rate.report(),
    manifest,
  };
}

/**
 * Now on the run's clock (`opts.now`, as startedAt was), never before startedAt: a resumed run
 * on a machine whose clock is behind the first run's must not write a manifest verify refuses.
 */
function finishedAt(run: BackupRun, startedAt: string): string {
  const now = (run.opts.now ?? (() => new Date()))().getTime();
  return new Date(Math.max(now, Date.parse(startedAt))).toISOString();
}
