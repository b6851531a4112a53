import { setMaxListeners } from 'node:events';
import { InterruptedError, isVaultError, UsageError } from '../core/errors.js';
import { CognitoGateway, regionOfPoolId } from '../cognito/gateway.js';
import { drillExitCode, runDrill } from '../drill/index.js';
import { listSnapshots, SnapshotReader } from '../snapshot/index.js';
import { openStorage } from '../storage/index.js';
import { drillMetric } from './drill-metrics.js';

/**
 * The scheduled drill's Lambda handler (the construct's drill state machine invokes it once per
 * pool, one at a time): the newest complete snapshot of `userPoolId` under COGNITO_VAULT_TO →
 * the drill engine (the same runDrill the CLI's `drill` calls) → metrics → a summary without
 * personal data. Deadline-aware like backupUnit: COGNITO_VAULT_DEADLINE_MARGIN_MS (default 60 s:
 * the scratch pool must still be deleted) before the Lambda timeout the run is aborted, and the
 * drill deletes its scratch pool as on Ctrl-C. A drill is not resumable: one that cannot finish
 * in an invocation fails (lower COGNITO_VAULT_DRILL_SAMPLE).
 *
 * Environment: COGNITO_VAULT_TO (s3://bucket/prefix), COGNITO_VAULT_DRILL_SAMPLE (users; empty:
 * all), COGNITO_VAULT_DRILL_SEED, COGNITO_VAULT_RATE_SHARE (default 0.5),
 * COGNITO_VAULT_KMS_KEY_ID, COGNITO_VAULT_EXPECTED_BUCKET_OWNER, COGNITO_VAULT_ENDPOINT_URL
 * (emulators), COGNITO_VAULT_NAME and COGNITO_VAULT_METRIC_NAMESPACE (metrics).
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

function envInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name]?.trim();
  if (!v) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new UsageError('LAMBDA_CONFIG', `${name} must be a whole number, got "${v}"`);
  return Number(v);
}

export async function drill(
  event: DrillEvent,
  context?: { getRemainingTimeInMillis(): number },
): Promise<DrillSummary> {
  const env = process.env;
  const userPoolId = event?.userPoolId;
  if (typeof userPoolId !== 'string' || !/^[\w-]+_[0-9a-zA-Z]+$/.test(userPoolId))
    throw new UsageError('LAMBDA_CONFIG', 'the event needs userPoolId (a user pool id)');
  const to = env.COGNITO_VAULT_TO?.trim();
  if (!to?.startsWith('s3://'))
    throw new UsageError(
      'LAMBDA_CONFIG',
      'COGNITO_VAULT_TO must be an s3://bucket/prefix location',
    );
  const sample = envInt(env, 'COGNITO_VAULT_DRILL_SAMPLE');
  const margin = envInt(env, 'COGNITO_VAULT_DEADLINE_MARGIN_MS') ?? DEFAULT_DRILL_MARGIN_MS;
  const rateShare = env.COGNITO_VAULT_RATE_SHARE ? Number(env.COGNITO_VAULT_RATE_SHARE) : 0.5;
  if (!(rateShare > 0 && rateShare <= 1))
    throw new UsageError('LAMBDA_CONFIG', 'COGNITO_VAULT_RATE_SHARE must be a number in (0, 1]');
  const endpointUrl = env.COGNITO_VAULT_ENDPOINT_URL?.trim() || undefined;
  const region = regionOfPoolId(userPoolId);

  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const remaining = context?.getRemainingTimeInMillis();
  const timer =
    remaining !== undefined
      ? setTimeout(
          () => controller.abort(new InterruptedError('stopped before the Lambda timeout')),
          Math.max(0, remaining - margin),
        )
      : undefined;
  const root = openStorage(to, {
    region: env.AWS_REGION ?? region,
    ...(endpointUrl ? { s3EndpointUrl: endpointUrl } : {}),
    ...(env.COGNITO_VAULT_KMS_KEY_ID ? { kmsKeyId: env.COGNITO_VAULT_KMS_KEY_ID } : {}),
    ...(env.COGNITO_VAULT_EXPECTED_BUCKET_OWNER
      ? { expectedBucketOwner: env.COGNITO_VAULT_EXPECTED_BUCKET_OWNER }
      : {}),
  });
  const gw = CognitoGateway.create(
    { region, ...(endpointUrl ? { endpointUrl } : {}) },
    { rate: { rateShare } },
  );
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
      ...(sample !== undefined ? { sample } : {}),
      ...(env.COGNITO_VAULT_DRILL_SEED ? { seed: env.COGNITO_VAULT_DRILL_SEED } : {}),
      usersPath: 'admin-create',
      signal: controller.signal,
      onProgress: (e) => {
        if (e.type === 'phase' || e.type === 'warning')
          console.log(JSON.stringify({ userPoolId, ...e }));
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
    console.log(JSON.stringify(summary));
    console.log(
      JSON.stringify(
        drillMetric(env, userPoolId, {
          passed: r.passed,
          durationSeconds: r.durationMs / 1000,
          ...(estimate !== undefined ? { estimatedRestoreSeconds: estimate } : {}),
        }),
      ),
    );
    return summary;
  } catch (e) {
    // A drill that could not run is a drill that did not pass.
    console.log(
      JSON.stringify(
        drillMetric(env, userPoolId, {
          passed: false,
          durationSeconds: (performance.now() - t0) / 1000,
        }),
      ),
    );
    console.error(
      JSON.stringify({
        userPoolId,
        error: isVaultError(e) ? e.toJSON() : { name: e instanceof Error ? e.name : 'error' },
      }),
    );
    throw e;
  } finally {
    if (timer) clearTimeout(timer);
    gw.destroy();
  }
}
