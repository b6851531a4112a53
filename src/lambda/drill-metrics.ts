/**
 * The drill's metrics, as CloudWatch embedded-metric-format log lines (no PutMetricData
 * permission): DrillPassed (1 or 0), DrillDurationSeconds and EstimatedRestoreSeconds (the
 * RTO estimate of a full restore, AdminCreateUser path), by Vault and by Vault × UserPoolId.
 * Import-free: the CDK construct (src/cdk/drill.ts) reads the names from here.
 */
export const DRILL_PASSED_METRIC = 'DrillPassed';
export const DRILL_DURATION_METRIC = 'DrillDurationSeconds';
export const ESTIMATED_RESTORE_METRIC = 'EstimatedRestoreSeconds';
export const DRILL_METRIC_NAMESPACE = 'CognitoVault';

export function drillMetric(
  env: NodeJS.ProcessEnv,
  userPoolId: string,
  values: { passed: boolean; durationSeconds: number; estimatedRestoreSeconds?: number },
  now = Date.now(),
): Record<string, unknown> {
  const estimate = values.estimatedRestoreSeconds;
  return {
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: env.COGNITO_VAULT_METRIC_NAMESPACE || DRILL_METRIC_NAMESPACE,
          Dimensions: [['Vault'], ['Vault', 'UserPoolId']],
          Metrics: [
            { Name: DRILL_PASSED_METRIC, Unit: 'Count' },
            { Name: DRILL_DURATION_METRIC, Unit: 'Seconds' },
            ...(estimate !== undefined
              ? [{ Name: ESTIMATED_RESTORE_METRIC, Unit: 'Seconds' }]
              : []),
          ],
        },
      ],
    },
    Vault: env.COGNITO_VAULT_NAME || 'default',
    UserPoolId: userPoolId,
    [DRILL_PASSED_METRIC]: values.passed ? 1 : 0,
    [DRILL_DURATION_METRIC]: Math.round(values.durationSeconds),
    ...(estimate !== undefined ? { [ESTIMATED_RESTORE_METRIC]: Math.round(estimate) } : {}),
  };
}
