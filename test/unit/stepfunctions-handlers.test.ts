import { afterEach, describe, expect, it, vi } from 'vitest';
import { COMPLETED_METRIC, completionMetric, METRIC_NAMESPACE } from '../../src/lambda/metrics.js';
import { plan, report } from '../../src/lambda/stepfunctions.js';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('completion metric (CloudWatch embedded metric format)', () => {
  it('is a valid EMF record: every dimension and metric is a top-level member', () => {
    const m = completionMetric({ COGNITO_VAULT_NAME: 'prod' }, 'eu-west-1_AbC', 1234, 42);
    const aws = m._aws as {
      Timestamp: number;
      CloudWatchMetrics: {
        Namespace: string;
        Dimensions: string[][];
        Metrics: { Name: string }[];
      }[];
    };
    expect(aws.Timestamp).toBe(42);
    const [d] = aws.CloudWatchMetrics;
    expect(d?.Namespace).toBe(METRIC_NAMESPACE);
    for (const key of d?.Dimensions.flat() ?? []) expect(typeof m[key]).toBe('string');
    for (const { Name } of d?.Metrics ?? []) expect(typeof m[Name]).toBe('number');
    expect(m).toMatchObject({ Vault: 'prod', UserPoolId: 'eu-west-1_AbC', [COMPLETED_METRIC]: 1 });
    expect(
      (completionMetric({ COGNITO_VAULT_METRIC_NAMESPACE: 'Mine' }, 'p', 0)._aws as typeof aws)
        .CloudWatchMetrics[0]?.Namespace,
    ).toBe('Mine');
  });
});

describe('report', () => {
  it('counts the outcomes and throws (failing the execution) when any unit failed', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(
      await report({
        results: [[{ userPoolId: 'a', ok: true }], [{ userPoolId: 'b', ok: true, pruneErrors: 1 }]],
      }),
    ).toEqual({ units: 2, succeeded: 2, failed: [] });
    await expect(
      report({
        results: [
          [{ userPoolId: 'a', ok: true }],
          [{ userPoolId: 'b', ok: false, error: 'MaxInvocationsExceeded' }],
        ],
      }),
    ).rejects.toMatchObject({
      code: 'UNITS_FAILED',
      message: '1 of 2 pool backups failed: b (MaxInvocationsExceeded)',
    });
    expect(await report({ results: [] })).toEqual({ units: 0, succeeded: 0, failed: [] });
  });
});

describe('plan with named pools', () => {
  it('needs no Cognito call and groups by Region, dropping duplicates', async () => {
    vi.stubEnv('COGNITO_VAULT_TO', 's3://bucket/x');
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const p = await plan({
      userPoolIds: ['eu-west-1_AAA', 'us-east-1_BBB', 'eu-west-1_AAA', 'eu-west-1_CCC'],
    });
    expect(p).toEqual({
      unitCount: 3,
      groups: [
        {
          group: 'self/eu-west-1',
          units: [
            { userPoolId: 'eu-west-1_AAA', region: 'eu-west-1' },
            { userPoolId: 'eu-west-1_CCC', region: 'eu-west-1' },
          ],
        },
        { group: 'self/us-east-1', units: [{ userPoolId: 'us-east-1_BBB', region: 'us-east-1' }] },
      ],
    });
  });

  it('refuses a role pattern without {account} or that is not a role ARN', async () => {
    vi.stubEnv('COGNITO_VAULT_TO', 's3://bucket/x');
    await expect(
      plan({ userPoolIds: ['eu-west-1_AAA'], accounts: ['111111111111'], roleArnPattern: 'x' }),
    ).rejects.toThrow(/\{account\}/);
    await expect(
      plan({
        userPoolIds: ['eu-west-1_AAA'],
        accounts: ['111111111111'],
        roleArnPattern: 'arn:aws:s3:::{account}',
      }),
    ).rejects.toThrow(/not an IAM role ARN/);
  });
});
