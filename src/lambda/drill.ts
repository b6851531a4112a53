import { UsageError } from '../core/errors.js';
import { regionOfPoolId } from '../cognito/gateway.js';
import { drillExitCode, runDrill } from '../drill/index.js';
import { listSnapshots, SnapshotReader } from '../snapshot/index.js';
import { drillConfigFromEnv } from './config.js';
import { drillMetric } from './drill-metrics.js';
import {
  deadline,
  errorSummary,
  gatewayFor,
  type LambdaContextLike,
  Logger,
  storageFor,
} from './runtime.js';

/**
 * The scheduled drill's Lambda handler (the construct's drill state machine invokes it once per
 * pool, one at a time): the newest complete snapshot of `userPoolId` under COGNITO_VAULT_TO →
 * the drill engine (the same runDrill the CLI's `drill` calls) → metrics → a summary without
 * personal data. A thin layer over the shared runtime (runtime.ts): configuration from the
 * environment (env.ts names and shapes, config.ts `drillConfigFromEnv`), the deadline signal —
 * COGNITO_VAULT_DEADLINE_MARGIN_MS (default 60 s: the scratch pool must still be deleted) before
 * the Lambda timeout the run is aborted and the drill deletes its scratch pool as on Ctrl-C —
 * and the JSON logger. A drill is not resumable: one that cannot finish in an invocation fails
 * (lower COGNITO_VAULT_DRILL_SAMPLE).
 */
export interface DrillEvent {
  userPoolId: string;
}

export interface DrillSummary {
  userPoolId: string;
  snapshotId: string;
  passed: boolean;
  exitCode: number;
  checks: { name: string; passed: boolean }[];
  sampledUsers: number;
  users: number;
  estimatedRestoreSeconds?: number;
  durationSeconds: number;
  scratchDeleted: boolean;
}

export const DEFAULT_DRILL_MARGIN_MS = 60_000;

export async function drill(event: DrillEvent, context?: LambdaContextLike): Promise<DrillSummary> {
  const userPoolId = event?.userPoolId;
  if (typeof userPoolId !== 'string' || !/^[\w-]+_[0-9a-zA-Z]+$/.test(userPoolId))
    throw new UsageError('LAMBDA_CONFIG', 'the event needs userPoolId (a user pool id)');
  const cfg = drillConfigFromEnv(process.env);
  const region = regionOfPoolId(userPoolId);
  const log = new Logger({ ...(context ? { context } : {}) }).child({ userPoolId });

  const stop = deadline(context, cfg.deadlineMarginMs ?? DEFAULT_DRILL_MARGIN_MS);
  // The bucket is in the function's Region; without one (a call from code), the pool's.
  const root = storageFor({ ...cfg, region: cfg.region ?? region });
  const gw = gatewayFor(cfg, region);
  const t0 = performance.now();
  try {
    const newest = (await listSnapshots(root, { userPoolId }))
      .filter((s) => s.complete)
      .sort((a, b) => a.snapshotId.localeCompare(b.snapshotId))
      .pop();
    if (!newest)
      throw new UsageError('NO_SNAPSHOT', `no complete snapshot of ${userPoolId} to drill`, {
        userPoolId,
      });
    const reader = await SnapshotReader.open(root.child(newest.path));
    const r = await runDrill(gw, reader, {
      ...(cfg.sample !== undefined ? { sample: cfg.sample } : {}),
      ...(cfg.seed ? { seed: cfg.seed } : {}),
      usersPath: 'admin-create',
      signal: stop.signal,
      onProgress: (e) => {
        if (e.type === 'phase') log.info('drill phase', { ...e });
        else if (e.type === 'warning') log.warn('drill warning', { ...e });
      },
    });
    const estimate = r.rto?.paths.find((p) => p.path === 'admin-create')?.totalSeconds ?? undefined;
    const summary: DrillSummary = {
      userPoolId,
      snapshotId: r.snapshotId,
      passed: r.passed,
      exitCode: drillExitCode(r),
      checks: r.checks.map((c) => ({ name: c.name, passed: c.passed })),
      sampledUsers: r.sample.users,
      users: r.sample.of,
      ...(estimate !== undefined ? { estimatedRestoreSeconds: estimate } : {}),
      durationSeconds: Math.round(r.durationMs / 1000),
      scratchDeleted: r.cleanup.scratchDeleted,
    };
    log.info(r.passed ? 'drill passed' : 'drill failed', { ...summary });
    log.metric(
      drillMetric(process.env, userPoolId, {
        passed: r.passed,
        durationSeconds: r.durationMs / 1000,
        ...(estimate !== undefined ? { estimatedRestoreSeconds: estimate } : {}),
      }),
    );
    return summary;
  } catch (e) {
    // A drill that could not run is a drill that did not pass.
    log.metric(
      drillMetric(process.env, userPoolId, {
        passed: false,
        durationSeconds: (performance.now() - t0) / 1000,
      }),
    );
    log.error('drill could not run', {
      error: errorSummary(e),
      ...(stop.reached ? { deadlineReached: true } : {}),
    });
    throw e;
  } finally {
    stop.dispose();
    gw.destroy();
  }
}
