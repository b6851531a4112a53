/**
 * The metrics the Step Functions handlers emit, as CloudWatch embedded-metric-format log lines.
 * Import-free: the CDK construct (src/cdk) reads the names from here without loading the engines.
 */
/**
 * The completion metric, as a CloudWatch embedded-metric-format log line (no PutMetricData
 * permission, no extra request): SnapshotsCompleted = 1 per committed snapshot, by Vault and by
 * Vault × UserPoolId. The "no complete snapshot in N hours" alarm watches it, missing data
 * breaching.
 */
export function completionMetric(
  env: NodeJS.ProcessEnv,
  userPoolId: string,
  users: number,
  now = Date.now(),
): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: env.COGNITO_VAULT_METRIC_NAMESPACE || METRIC_NAMESPACE,
          Dimensions: [['Vault'], ['Vault', 'UserPoolId']],
          Metrics: [
            { Name: COMPLETED_METRIC, Unit: 'Count' },
            { Name: 'UsersBackedUp', Unit: 'Count' },
          ],
        },
      ],
    },
    Vault: env.COGNITO_VAULT_NAME || 'default',
    UserPoolId: userPoolId,
    [COMPLETED_METRIC]: 1,
    UsersBackedUp: users,
  };
}

export const METRIC_NAMESPACE = 'CognitoVault';
export const COMPLETED_METRIC = 'SnapshotsCompleted';
