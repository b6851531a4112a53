import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { CognitoVault, type CognitoVaultProps, RETRIED_ERRORS } from '../../src/cdk/index.js';

/** The errors BackupUnit retries, pinned: the bundle's class names (a changed list must fail). */
const RETRIED = ['ServiceUnavailableError', 'StorageError', 'InterruptedError'];
import { actionsOf, iamPolicy } from '../../src/policy/iam.js';

const POOL_A = 'us-east-1_AAAAAAAAA';
const POOL_B = 'eu-west-1_BBBBBBBBB';
const code = lambda.Code.fromInline('export const x = 1;');

function synth(props: Partial<CognitoVaultProps> = {}): {
  template: Template;
  vault: CognitoVault;
} {
  const app = new App();
  const stack = new Stack(app, 'Test');
  const vault = new CognitoVault(stack, 'Vault', {
    userPoolIds: [POOL_A, POOL_B],
    retention: { keepLast: 7, keepDaily: 14, keepMonthly: 3 },
    code,
    ...props,
  });
  return { template: Template.fromStack(stack), vault };
}

/** The state machine's ASL, with every CloudFormation token replaced by a marker. */
function definition(template: Template): Record<string, unknown> {
  const [sm] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
  const body = (sm as { Properties: { DefinitionString: unknown } }).Properties.DefinitionString;
  const join = body as { 'Fn::Join': [string, unknown[]] };
  const text = join['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('');
  return JSON.parse(text) as Record<string, unknown>;
}

type State = Record<string, unknown> & { Type: string };
function states(asl: Record<string, unknown>): Record<string, State> {
  const out: Record<string, State> = {};
  const walk = (s: Record<string, State>): void => {
    for (const [name, st] of Object.entries(s)) {
      out[name] = st;
      const proc = (st.ItemProcessor ?? st.Iterator) as
        { States: Record<string, State> } | undefined;
      if (proc) walk(proc.States);
    }
  };
  walk(asl.States as Record<string, State>);
  return out;
}

/** Every statement of the role policies attached to a function's role. */
function roleStatements(template: Template, fnLogicalPrefix: string): Record<string, unknown>[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.entries(policies)
    .filter(([id]) => id.startsWith(`Vault${fnLogicalPrefix}FunctionServiceRoleDefaultPolicy`))
    .flatMap(
      ([, p]) =>
        (p as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } })
          .Properties.PolicyDocument.Statement,
    );
}
const actions = (sts: Record<string, unknown>[]): string[] =>
  [...new Set(sts.flatMap((s) => [s.Action].flat() as string[]))].sort();

describe('CognitoVault construct: storage', () => {
  it('creates a KMS-encrypted, versioned, private, TLS-only bucket with lifecycle rules from the retention', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: Match.anyValue(),
            },
          },
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            Status: 'Enabled',
          }),
          Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } }),
          // keepMonthly 3 → 93 days, plus the 30-day backstop margin.
          Match.objectLike({ ExpirationInDays: 123, Prefix: 'snapshots/' }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Deny',
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      },
    });
  });

  it('without retention, no expiry of current objects (prune is off too)', () => {
    const { template } = synth({ retention: undefined });
    const [bucket] = Object.values(template.findResources('AWS::S3::Bucket'));
    const rules = (bucket as { Properties: { LifecycleConfiguration: { Rules: object[] } } })
      .Properties.LifecycleConfiguration.Rules;
    expect(rules.some((r) => 'ExpirationInDays' in r)).toBe(false);
  });

  it('uses a given bucket instead of creating one', () => {
    const app = new App();
    const stack = new Stack(app, 'Given');
    const bucket = s3.Bucket.fromBucketName(stack, 'Existing', 'my-backups');
    new CognitoVault(stack, 'Vault', { userPoolIds: [POOL_A], bucket, code });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::S3::Bucket', 0);
    t.resourceCountIs('AWS::KMS::Key', 0);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          COGNITO_VAULT_TO: 's3://my-backups/snapshots',
          // A given bucket may be another account's: no owner assumed unless given.
          COGNITO_VAULT_EXPECTED_BUCKET_OWNER: Match.absent(),
        }),
      },
    });
  });
});

describe('CognitoVault construct: functions and IAM', () => {
  it('four Node.js 22 functions over one bundle, configured from the props', () => {
    const { template } = synth({ rateShare: 0.4 });
    for (const h of ['index.plan', 'index.backupUnit', 'index.prune', 'index.report']) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Handler: h,
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
      });
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.backupUnit',
      Timeout: 900,
      Environment: {
        Variables: Match.objectLike({
          COGNITO_VAULT_USER_POOL_IDS: `${POOL_A},${POOL_B}`,
          COGNITO_VAULT_RATE_SHARE: '0.4',
          COGNITO_VAULT_KEEP_LAST: '7',
          COGNITO_VAULT_KEEP_DAILY: '14',
          COGNITO_VAULT_KEEP_MONTHLY: '3',
          COGNITO_VAULT_INCLUDE_SECRETS: 'false',
          COGNITO_VAULT_NAME: 'Vault',
          COGNITO_VAULT_KMS_KEY_ID: Match.anyValue(),
          COGNITO_VAULT_EXPECTED_BUCKET_OWNER: { Ref: 'AWS::AccountId' },
        }),
      },
    });
  });

  it('grants the backup function exactly `cognito-vault policy backup` on the named pools', () => {
    const { template } = synth();
    const sts = roleStatements(template, 'Backup');
    const expected = iamPolicy('backup', {
      userPoolArns: [
        `arn:aws:cognito-idp:us-east-1:000000000000:userpool/${POOL_A}`,
        `arn:aws:cognito-idp:eu-west-1:000000000000:userpool/${POOL_B}`,
      ],
      s3Location: 's3://bucket/snapshots',
      kmsKeyArn: 'arn:aws:kms:us-east-1:000000000000:key/k',
    });
    expect(actions(sts)).toEqual(actionsOf(expected).sort());
    expect(actions(sts).some((a) => a.endsWith(':*') || a === '*')).toBe(false);
    // Deletes only its own lease objects and completion records (docs/format.md), never a
    // snapshot file.
    for (const s of sts.filter((x) => actions([x]).includes('s3:DeleteObject'))) {
      expect(JSON.stringify(s.Resource)).toMatch(/\/(locks|progress)\/\*"/);
    }
    const pool = sts.find((s) => s.Sid === 'CognitoUserPool');
    expect(JSON.stringify(pool?.Resource)).toContain(`userpool/${POOL_A}`);
    expect(JSON.stringify(pool?.Resource)).toContain('AWS::AccountId');
    const objects = sts.find((s) => s.Sid === 'SnapshotObjects');
    expect(JSON.stringify(objects?.Resource)).toMatch(/VaultBucket.*\/snapshots\/\*/);
  });

  it('grants prune only storage (with delete) and plan nothing for named pools', () => {
    const { template } = synth();
    const prune = actions(roleStatements(template, 'Prune'));
    expect(prune).toContain('s3:DeleteObject');
    expect(prune.filter((a) => a.startsWith('cognito-idp:'))).toEqual([]);
    expect(roleStatements(template, 'Plan')).toEqual([]);
    expect(roleStatements(template, 'Report')).toEqual([]);
  });

  it('every pool: plan may list pools; other accounts: roles to assume, no Cognito grant here', () => {
    const all = synth({ userPoolIds: '*' }).template;
    expect(actions(roleStatements(all, 'Plan'))).toEqual(['cognito-idp:ListUserPools']);
    const cross = synth({
      userPoolIds: '*',
      accounts: ['111111111111'],
      roleArnPattern: 'arn:aws:iam::{account}:role/CognitoVaultBackup',
    }).template;
    for (const f of ['Plan', 'Backup']) {
      const sts = roleStatements(cross, f);
      expect(sts.find((s) => s.Sid === 'AssumeBackupRoles')).toMatchObject({
        Action: 'sts:AssumeRole',
        Resource: 'arn:aws:iam::111111111111:role/CognitoVaultBackup',
      });
      expect(actions(sts).filter((a) => a.startsWith('cognito-idp:'))).toEqual([]);
    }
  });
});

describe('CognitoVault construct: state machine', () => {
  it('plans, runs account/Region groups in parallel and each group one unit at a time', () => {
    const asl = definition(synth({ maxConcurrentGroups: 5 }).template);
    expect(asl.StartAt).toBe('PlanUnits');
    expect(asl.TimeoutSeconds).toBe(23 * 3600);
    const s = states(asl);
    expect(s.AccountRegionGroups).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 5,
      ItemsPath: '$.plan.groups',
    });
    expect(s.UnitsOneAtATime).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 1,
      ItemsPath: '$.units',
    });
    expect(s.AccountRegionGroups?.Next).toBe('Report');
    expect(s.Report?.End).toBe(true);
  });

  it('distributedMap: the groups become child executions of a distributed Map, same units inside', () => {
    const { template } = synth({ distributedMap: true, maxConcurrentGroups: 100 });
    const s = states(definition(template));
    expect(s.AccountRegionGroups).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 100,
      ItemsPath: '$.plan.groups',
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' } },
    });
    expect(s.UnitsOneAtATime).toMatchObject({ Type: 'Map', MaxConcurrency: 1 });
    // The state machine may start its own child executions.
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('states:StartExecution');
  });

  it('loops BackupUnit until done, within maxInvocationsPerUnit, then prunes', () => {
    const s = states(definition(synth({ maxInvocationsPerUnit: 12 }).template));
    expect(s.BackupUnit?.Next).toBe('UnitDone');
    expect(s.UnitDone).toMatchObject({
      Type: 'Choice',
      Choices: [
        { Variable: '$.done', BooleanEquals: true, Next: 'PruneUnit' },
        { Variable: '$.invocations', NumericGreaterThanEquals: 12, Next: 'UnitTooLong' },
      ],
      Default: 'BackupUnit',
    });
    expect(s.PruneUnit?.Next).toBe('UnitSucceeded');
    expect(s.UnitTooLong).toMatchObject({ Type: 'Pass', Parameters: { ok: false } });
  });

  it('retries throttling, outages and Lambda errors; catches the rest per unit', () => {
    expect(RETRIED_ERRORS).toEqual(RETRIED);
    const s = states(definition(synth().template));
    // Every Task's Parameters (when it has one) is a JSON object: a string such as "$" is
    // rejected by the States Language and handed to the function as it is (aws-cdk issue 34260).
    for (const [name, st] of Object.entries(s)) {
      if ('Parameters' in st) expect(typeof st.Parameters, name).toBe('object');
    }
    expect(s.BackupUnit).not.toHaveProperty('Parameters');
    const retry = s.BackupUnit?.Retry as { ErrorEquals: string[]; MaxAttempts: number }[];
    expect(retry).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ErrorEquals: RETRIED, MaxAttempts: 3, BackoffRate: 2 }),
        expect.objectContaining({
          ErrorEquals: expect.arrayContaining(['Lambda.TooManyRequestsException']),
        }),
      ]),
    );
    expect(s.BackupUnit?.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'UnitFailed' },
    ]);
    expect(s.PruneUnit?.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.pruneError', Next: 'PruneFailed' },
    ]);
    expect(s.UnitFailed).toMatchObject({ Type: 'Pass', Parameters: { ok: false } });
    // The plan and the report are not caught: their failure fails the execution.
    expect(s.PlanUnits?.Catch).toBeUndefined();
    expect(s.Report?.Catch).toBeUndefined();
  });

  it('runs on the schedule (daily 03:00 UTC by default, or the given one)', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 3 * * ? *)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { Ref: Match.stringLikeRegexp('VaultStateMachine') },
          // Not the scheduled event: the plan takes its settings from the environment.
          Input: '{}',
        }),
      ],
    });
  });
});

describe('CognitoVault construct: alarms', () => {
  it('alarms on failed, timed-out or aborted executions', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      TreatMissingData: 'notBreaching',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'failed + timedOut + aborted' }),
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({ MetricName: 'ExecutionsFailed' }),
          }),
        }),
      ]),
    });
  });

  it('every alarm notifies a topic: a new one by default, with an optional e-mail subscription', () => {
    const { template, vault } = synth({ alarmEmail: 'ops@example.com' });
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBe(2 + 2); // failure, stale, one per named pool
    for (const a of alarms) {
      expect((a as { Properties: { AlarmActions: unknown[] } }).Properties.AlarmActions).toEqual([
        { Ref: expect.stringMatching(/^VaultAlarmTopic/) },
      ]);
    }
    expect(vault.alarmSubscription).toBeDefined();
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    for (const out of ['BucketName', 'StateMachineArn', 'AlarmTopicArn']) {
      expect(Object.keys(template.findOutputs('*')).some((k) => k.startsWith(`Vault${out}`))).toBe(
        true,
      );
    }
    expect(synth().template.findResources('AWS::SNS::Subscription')).toEqual({});
  });

  it('passes age recipients and user MFA capture to the functions, refusing a bad recipient', () => {
    const age = `age1${'q'.repeat(58)}`;
    const { template } = synth({ encryptTo: [age], userMfa: true });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          COGNITO_VAULT_ENCRYPT_TO: age,
          COGNITO_VAULT_USER_MFA: 'true',
        }),
      },
    });
    expect(() => synth({ encryptTo: ['age1nope'] })).toThrow(/not an age X25519 recipient/);
  });

  it('takes template parameters (tokens) for pools, retention, rate share, MFA capture and drill pools', () => {
    const app = new App();
    const stack = new Stack(app, 'Params');
    const param = (id: string, type = 'String') => new CfnParameter(stack, id, { type });
    const vault = new CognitoVault(stack, 'Vault', {
      userPoolIds: param('Pools').valueAsString,
      regions: [param('Regions').valueAsString],
      retention: {
        keepLast: param('KeepLast', 'Number').valueAsNumber,
        keepDaily: param('KeepDaily', 'Number').valueAsNumber,
      },
      lifecycleExpiration: Duration.days(400),
      rateShare: param('RateShare', 'Number').valueAsNumber,
      userMfa: param('UserMfa').valueAsString,
      drill: {
        schedule: events.Schedule.expression(param('DrillSchedule').valueAsString),
        userPoolIds: param('DrillPools').valueAsString,
      },
      code,
    });
    const t = Template.fromStack(stack);
    t.allResourcesProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          COGNITO_VAULT_USER_POOL_IDS: { Ref: 'Pools' },
          COGNITO_VAULT_REGIONS: { Ref: 'Regions' },
          COGNITO_VAULT_KEEP_LAST: { Ref: 'KeepLast' },
          COGNITO_VAULT_KEEP_DAILY: { Ref: 'KeepDaily' },
          COGNITO_VAULT_RATE_SHARE: { Ref: 'RateShare' },
          COGNITO_VAULT_USER_MFA: { Ref: 'UserMfa' },
        }),
      },
    });
    // The pools are known at deployment only: the plan may list pools, no per-pool alarm.
    expect(JSON.stringify(t.toJSON())).toContain('cognito-idp:ListUserPools');
    expect(vault.poolStaleAlarms).toEqual([]);
    expect(vault.drill!.poolAlarms).toEqual([]);
    // The drill's pools arrive as one string; its state machine splits them first.
    const sms = Object.values(t.findResources('AWS::StepFunctions::StateMachine'));
    expect(JSON.stringify(sms)).toContain("States.StringSplit($.userPoolIds, ',')");
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: { Ref: 'DrillSchedule' } });

    const again = (props: Partial<CognitoVaultProps>) => () => {
      const s = new Stack(new App(), 'P');
      new CognitoVault(s, 'Vault', {
        userPoolIds: [POOL_A],
        code,
        ...props,
        ...(props.retention
          ? {
              retention: {
                keepLast: new CfnParameter(s, 'K', { type: 'Number' }).valueAsNumber,
              },
            }
          : {}),
      });
    };
    // The backstop cannot be computed from parameters: it must be given.
    expect(again({ retention: { keepLast: 1 } })).toThrow(/needs lifecycleExpiration/);
    expect(again({ rateShare: 0 })).toThrow(/rateShare/);
    expect(again({ rateShare: 1.5 })).toThrow(/rateShare/);
    expect(again({ userMfa: 'yes' })).toThrow(/userMfa/);
    expect(again({ userPoolIds: 'eu-west-1_X' })).toThrow(/userPoolIds/);
  });

  it('alarms when no snapshot completed in N hours, missing data breaching, per vault and per pool', () => {
    const topic = (s: Stack) => new sns.Topic(s, 'T');
    const app = new App();
    const stack = new Stack(app, 'Alarms');
    new CognitoVault(stack, 'Vault', {
      userPoolIds: [POOL_A, POOL_B],
      staleAfter: Duration.hours(30),
      alarmTopic: topic(stack),
      code,
    });
    const t = Template.fromStack(stack);
    const stale = {
      Namespace: 'CognitoVault',
      MetricName: 'SnapshotsCompleted',
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 30,
      DatapointsToAlarm: 30,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^T') }],
    };
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...stale,
      Dimensions: [{ Name: 'Vault', Value: 'Vault' }],
    });
    for (const p of [POOL_A, POOL_B]) {
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        ...stale,
        Dimensions: [
          { Name: 'UserPoolId', Value: p },
          { Name: 'Vault', Value: 'Vault' },
        ],
      });
    }
    t.resourceCountIs('AWS::CloudWatch::Alarm', 4);
  });

  it('refuses props CloudWatch or Step Functions would reject', () => {
    expect(() => synth({ staleAfter: Duration.days(8) })).toThrow(/7 days/);
    expect(() => synth({ maxConcurrentGroups: 41 })).toThrow(/1 to 40/);
    expect(() => synth({ accounts: ['111111111111'] })).toThrow(/roleArnPattern/);
    expect(() => synth({ regions: ['eu-west-1'] })).toThrow(/'\*' only/);
  });
});
